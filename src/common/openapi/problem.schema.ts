import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class InvalidFieldSchema {
  @ApiProperty({ example: 'to' })
  name: string;

  @ApiProperty({ example: 'a user address needs a localpart' })
  reason: string;
}

/** RFC 9457 problem details, as every 4xx and 5xx answer carries them. */
export class ProblemResponse {
  @ApiProperty({ example: '/problems/validation', description: 'Stable identifier of the kind of problem' })
  type: string;

  @ApiProperty({ example: 'The request has invalid fields' })
  title: string;

  @ApiProperty({ example: 400 })
  status: number;

  @ApiPropertyOptional({ example: 'to: a user address needs a localpart' })
  detail?: string;

  @ApiPropertyOptional({ example: '/api/messages' })
  instance?: string;

  @ApiPropertyOptional({ example: '8f0c1e9e-3f57-4a53-9d2e-5f1b8f0e6a11' })
  request_id?: string;

  @ApiPropertyOptional({ type: [InvalidFieldSchema] })
  errors?: InvalidFieldSchema[];
}
