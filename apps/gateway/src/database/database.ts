import type { AppDatabase } from '@kiln/platform/database';
import { ApiTokenEntity } from '../auth/api-token.entity';
import { GatewayInitial1764230200000 } from './migrations/1764230200000-gateway-initial';

export const gatewayDatabase: AppDatabase = {
  schema: 'gateway',
  entities: [ApiTokenEntity],
  migrations: [GatewayInitial1764230200000],
};
