import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';

export class LoginDto {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  password!: string;
}

export class RequireLoginDto {
  @ApiPropertyOptional({
    description: 'false: the management API needs no login (not recommended)',
  })
  @IsOptional()
  @IsBoolean()
  requireLogin?: boolean;

  @ApiPropertyOptional({
    minLength: 4,
    maxLength: 200,
    description: 'Sets (or changes) the admin password',
  })
  @IsOptional()
  @IsString()
  @Length(4, 200)
  password?: string;
}

export class SuccessResponse {
  @ApiProperty({ example: true }) success!: boolean;
}

export class AuthStatusResponse {
  @ApiProperty() authenticated!: boolean;
}

export class RequireLoginResponse {
  @ApiProperty() requireLogin!: boolean;
  @ApiProperty() hasPassword!: boolean;
  @ApiProperty() setupComplete!: boolean;
  @ApiProperty() nodeVersion!: string;
  @ApiProperty() nodeCompatible!: boolean;
}
