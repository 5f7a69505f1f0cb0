import type { AppDatabase } from '@kiln/platform/database';
import { BuildEntity, BuildStepEntity } from '../builds/build.entity';
import { BuildLogLineEntity } from '../logs/log-line.entity';
import { LogsInitial1764230100000 } from './migrations/1764230100000-logs-initial';
import { LogsPlatformImages1764252000000 } from './migrations/1764252000000-logs-platform-images';
import { LogsRebuildOf1764254000000 } from './migrations/1764254000000-logs-rebuild-of';
import { LogsBuildInstructions1764256000000 } from './migrations/1764256000000-logs-build-instructions';

export const logsDatabase: AppDatabase = {
  schema: 'logs',
  entities: [BuildEntity, BuildStepEntity, BuildLogLineEntity],
  migrations: [LogsInitial1764230100000, LogsPlatformImages1764252000000, LogsRebuildOf1764254000000, LogsBuildInstructions1764256000000],
};
