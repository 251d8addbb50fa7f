import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';

export const DEFAULT_PAGE_SIZE = 50;

/**
 * A number in the query string. An empty or repeated parameter is not a
 * number (so it fails validation) rather than 0 or the first value.
 */
export function QueryNumber(): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN,
  );
}
export const MAX_PAGE_SIZE = 500;

/** How many items a page holds. */
export class PageSizeQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @QueryNumber()
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;
}

/**
 * Archive paging. `before` is epoch milliseconds, as the older REST API had
 * it; `before_id` and `after_id` are message ids, exact cursors that never
 * skip or repeat messages sharing a millisecond. Pages run oldest to newest.
 */
export class ArchivePageQuery extends PageSizeQuery {
  @ApiPropertyOptional({
    description: 'Only messages strictly older than this time (epoch milliseconds)',
  })
  @IsOptional()
  @QueryNumber()
  @IsInt()
  @Min(0)
  before?: number;

  @ApiPropertyOptional({
    description: 'Only messages older than this message id; the page ends just before it',
  })
  @IsOptional()
  @IsUUID('7')
  before_id?: string;

  @ApiPropertyOptional({
    description: 'Only messages newer than this message id; the page starts just after it',
  })
  @IsOptional()
  @IsUUID('7')
  after_id?: string;
}
