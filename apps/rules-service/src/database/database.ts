import type { AppDatabase } from '@kiln/platform/database';
import { RulesInitial1764230000000 } from './migrations/1764230000000-rules-initial';
import { RulesCursorPrecision1764236000000 } from './migrations/1764236000000-rules-cursor-precision';
import { RulesEventLedger1764238000000 } from './migrations/1764238000000-rules-event-ledger';
import { RulesBuildOptions1764240000000 } from './migrations/1764240000000-rules-build-options';
import { RulesSourceSsh1764242000000 } from './migrations/1764242000000-rules-source-ssh';
import { RulesHostApis1764244000000 } from './migrations/1764244000000-rules-host-apis';
import { RulesNoRulesFlag1764246000000 } from './migrations/1764246000000-rules-no-rules-flag';
import { RulesRegistries1764248000000 } from './migrations/1764248000000-rules-registries';
import { RulesTargetPlatforms1764250000000 } from './migrations/1764250000000-rules-target-platforms';
import { RegistryEntity } from '../registries/registry.entity';
import { CodeSourceEntity } from '../sources/code-source.entity';
import { BuildRuleEntity } from '../rules/build-rule.entity';
import { EventDecisionEntity, PushEventEntity } from '../pushes/push-event.entity';
import { OAuthStateEntity, RegisteredWebhookEntity } from '../hosts/host-records.entity';

export const rulesDatabase: AppDatabase = {
  schema: 'rules',
  entities: [CodeSourceEntity, BuildRuleEntity, PushEventEntity, EventDecisionEntity, RegistryEntity, RegisteredWebhookEntity, OAuthStateEntity],
  migrations: [
    RulesInitial1764230000000,
    RulesCursorPrecision1764236000000,
    RulesEventLedger1764238000000,
    RulesBuildOptions1764240000000,
    RulesSourceSsh1764242000000,
    RulesHostApis1764244000000,
    RulesNoRulesFlag1764246000000,
    RulesRegistries1764248000000,
    RulesTargetPlatforms1764250000000,
  ],
};
