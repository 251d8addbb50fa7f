import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/**
 * Archive paging. `before` is epoch milliseconds, as the older REST API had
 * it; `before_id` and `after_id` are message ids, exact cursors that never
 * skip or repeat messages sharing a millisecond. Pages run oldest to newest.
 */
export class ArchivePageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({
    description: 'Only messages strictly older than this time (epoch milliseconds)',
  })
  @IsOptional()
  @Type(() => Number)
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
