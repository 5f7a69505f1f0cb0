import type { BuildStatus, Provider, Trigger, TagRule, NormalizedTagRule } from '@kiln/domain';
import type { BuildFailure, BuildTriggerInfo, LogStream, PlatformImage, StepName, StepStatus } from './builds.v1';
import { defineBytesRpc, defineRpc } from './define';
import type { PushReceivedV1 } from './push-received.v1';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// ---- code sources (rules-service) ----
export interface CreateSourceRequest {
  provider: Provider;
  name: string;
  baseUrl?: string | null;
  /** The host's REST API base when not the default (api.github.com, <baseUrl>/api/v4, gitee.com/api/v5). */
  apiUrl?: string | null;
  token?: string;
  username?: string;
  password?: string;
  /** `git` sources over SSH: an OpenSSH private key (unencrypted), or `generateSshKey` for Kiln to make one. */
  sshPrivateKey?: string;
  generateSshKey?: boolean;
  webhookSecret?: string;
}

export interface SourceView {
  id: string;
  provider: Provider;
  name: string;
  baseUrl: string | null;
  apiUrl: string | null;
  /** The token came from the host's OAuth flow. */
  oauth: boolean;
  webhookUrl: string;
  /** Which credentials Kiln holds (never the credentials themselves). */
  credentials: 'token' | 'password' | 'oauth' | 'ssh-key' | 'none';
  /** The public half of the source's SSH key: add it to the repository as a (read-only) deploy key. */
  sshPublicKey: string | null;
  status: 'ok' | 'unauthorized';
  statusReason: string | null;
  statusAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Only the create answer carries the webhook secret, once. */
export type CreatedSourceView = SourceView & { webhookSecret: string };

/** What webhook-ingest needs to verify a delivery. Core NATS inside the trusted network only. */
export interface SourceWebhookConfig {
  id: string;
  provider: Provider;
  webhookSecret: string;
}

/** What the clone activity needs. Never logged, never put in Temporal history. */
export interface SourceCredentials {
  id: string;
  provider: Provider;
  username: string | null;
  secret: string | null;
  sshPrivateKey: string | null;
}

export type UpdateSourceRequest = Partial<Omit<CreateSourceRequest, 'provider'>>;

export const sourcesCreate = defineRpc<CreateSourceRequest, CreatedSourceView>('rules.sources.create');
export const sourcesList = defineRpc<Record<string, never>, Page<SourceView>>('rules.sources.list');
export const sourcesGet = defineRpc<{ id: string }, SourceView>('rules.sources.get');
export const sourcesWebhookConfig = defineRpc<{ id: string }, SourceWebhookConfig>('rules.sources.webhook-config');
export const sourcesCredentials = defineRpc<{ id: string }, SourceCredentials>('rules.sources.credentials');
/** Core NATS broadcast (no queue group): every webhook-ingest replica drops its cached config of the source. */
export const SOURCE_CHANGED_SUBJECT = 'rules.sources.changed';

export interface HostRepositoryView {
  fullName: string;
  cloneUrl: string;
  defaultBranch: string | null;
  private: boolean;
}
export interface HostRefView {
  name: string;
  commit: string;
}
/** What the source's credentials can see on the host (its REST API), page by page. */
export const sourcesRepositories = defineRpc<{ id: string; cursor?: string; limit?: number }, Page<HostRepositoryView>>('rules.sources.repositories');
export const sourcesRefs = defineRpc<{ id: string; repo: string; kind: 'branches' | 'tags'; cursor?: string; limit?: number }, Page<HostRefView>>('rules.sources.refs');
export interface OAuthStartRequest {
  provider: string;
  /** Name of the source to create (or `sourceId` to re-authorize one). */
  name?: string;
  baseUrl?: string | null;
  apiUrl?: string | null;
  sourceId?: string;
}
export const oauthStart = defineRpc<OAuthStartRequest, { authorizeUrl: string; state: string; expiresAt: string }>('rules.oauth.start');
export const oauthCallback = defineRpc<{ code?: string; state?: string; error?: string; error_description?: string }, SourceView>('rules.oauth.callback');

export const sourcesUpdate = defineRpc<{ id: string; patch: UpdateSourceRequest }, SourceView>('rules.sources.update');
export const sourcesDelete = defineRpc<{ id: string }, { deleted: true }>('rules.sources.delete');

// ---- build rules (rules-service) ----
export interface BuildRuleInput {
  name?: string;
  sourceId: string;
  repository: string;
  trigger: Trigger;
  dockerfilePath?: string;
  contextDir?: string;
  tagRule?: TagRule;
  autoTrigger?: boolean;
  /** Seconds a build may take from the end of its clone to its pushed image (default 3600); then it fails as `Timeout`. */
  timeoutSeconds?: number;
  /**
   * `--build-arg`s. A secret one's value is stored sealed, never shown again and replaced by *** in logs; sending
   * a secret without a value on update keeps the stored one. (Build args end up in the image's history: prefer
   * build secrets for long-lived credentials.)
   */
  buildArgs?: BuildArgInput[];
  /** A newer push to the same branch cancels this rule's older build of it that has not started pushing. */
  cancelSuperseded?: boolean;
  /** Check out submodules (top level, shallow; their URLs are checked like the source's). */
  submodules?: boolean;
  /** On create: register Kiln's webhook on the repository through the host's API (removed with the last rule). */
  registerWebhook?: boolean;
  /** Keep only the last N builds and/or builds younger than D days (null: the global policy). */
  retention?: RetentionPolicy | null;
  /** Build only up to this stage of a multi-stage Dockerfile (`docker build --target`); null: the last stage. */
  target?: string | null;
  /** Platforms to build (`linux/amd64`, `linux/arm64`, ...): several make one image index; empty: the worker's own. */
  platforms?: string[];
  /** Push to this registry (an id from `/api/v1/registries`) instead of Kiln's own; null: Kiln's registry. */
  pushRegistryId?: string | null;
  /** Registries whose credentials the build may use to pull private base images (ids from `/api/v1/registries`). */
  pullRegistryIds?: string[];
}

export interface BuildArgInput {
  name: string;
  value?: string;
  secret?: boolean;
}
/** A secret argument is shown without its value. */
export interface BuildArgView {
  name: string;
  value?: string;
  secret: boolean;
}
export interface RetentionPolicy {
  keepLast?: number;
  maxAgeDays?: number;
}

export interface BuildRuleView {
  id: string;
  name: string;
  namespace: string;
  imageRepository: string;
  sourceId: string;
  repository: string;
  trigger: Trigger;
  dockerfilePath: string;
  contextDir: string;
  tagRule: NormalizedTagRule;
  autoTrigger: boolean;
  timeoutSeconds: number;
  buildArgs: BuildArgView[];
  cancelSuperseded: boolean;
  submodules: boolean;
  retention: RetentionPolicy | null;
  target: string | null;
  platforms: string[];
  pushRegistryId: string | null;
  pullRegistryIds: string[];
  /** The state of the rule's source: `unauthorized` until its credentials are renewed. */
  source: { status: 'ok' | 'unauthorized'; statusReason: string | null; statusAt: string | null };
  createdAt: string;
  updatedAt: string;
}

export const rulesCreate = defineRpc<{ namespace: string; imageRepository: string; rule: BuildRuleInput }, BuildRuleView>('rules.rules.create');
export const rulesList = defineRpc<{ namespace?: string; imageRepository?: string; cursor?: string; limit?: number }, Page<BuildRuleView>>('rules.rules.list');
export const rulesGet = defineRpc<{ id: string }, BuildRuleView>('rules.rules.get');
export const rulesUpdate = defineRpc<{ id: string; patch: Partial<BuildRuleInput> }, BuildRuleView>('rules.rules.update');
export const rulesDelete = defineRpc<{ id: string }, { deleted: true }>('rules.rules.delete');
/** Secret build-argument values of a rule, for the worker running its build (never for the API). */
export const rulesBuildSecrets = defineRpc<{ ruleId: string; names: string[] }, Record<string, string>>('rules.rules.build-secrets');
/** Every rule's own retention policy, for log-service's retention job. */
export const rulesRetention = defineRpc<Record<string, never>, Array<{ ruleId: string; retention: RetentionPolicy }>>('rules.rules.retention');
export const rulesSetAutoTrigger = defineRpc<{ id: string; enabled: boolean }, BuildRuleView>('rules.rules.auto-trigger');

export interface PreviewRequest {
  id: string;
  ref: string;
  commit: string;
}
export interface PreviewResult {
  wouldFire: boolean;
  /** Why not, when it would not. */
  reason: string | null;
  /** The exact tag it would produce now. */
  tag: string;
  image: string;
}
export const rulesPreview = defineRpc<PreviewRequest, PreviewResult>('rules.rules.preview');

/** Build now: exactly one of branch, tag or commit (a commit may name the branch it belongs to). */
export interface StartBuildRequest {
  ruleId: string;
  branch?: string;
  tag?: string;
  commit?: string;
  /** Who asked (the API token's name). */
  by: string;
}
export interface StartedBuild {
  buildId: string;
  workflowId: string;
  ref: string;
  commit: string;
}
export const buildsStart = defineRpc<StartBuildRequest, StartedBuild>('rules.builds.start');
/** Run a finished build again: a new build (own id, record and tags) with its inputs, linked to it. */
export interface RebuildRequest {
  /** The build repeated; its rule, ref and commit (read from its record by the caller). */
  of: string;
  ruleId: string;
  ref: string;
  commit: string;
  by: string;
}
export const buildsRebuild = defineRpc<RebuildRequest, StartedBuild & { rebuildOf: string }>('rules.builds.rebuild');
/** Cancel a build's workflow: the running step is aborted, the workspace cleaned, the build `cancelled`. */
export const buildsCancel = defineRpc<{ workflowId: string }, { cancelRequested: true }>('rules.builds.cancel');

// ---- event ledger (rules-service) ----
export interface EventDecisionView {
  ruleId: string | null;
  decision: 'build-started' | 'no-match' | 'auto-trigger-off' | 'ref-deleted' | 'no-rules' | 'source-unauthorized';
  reason: string | null;
  buildId: string | null;
  workflowId: string | null;
}

export interface EventView {
  id: string;
  sourceId: string | null;
  provider: string | null;
  deliveryId: string | null;
  outcome: 'accepted' | 'ping' | 'ignored' | 'refused';
  status: number;
  reason: string | null;
  eventType: string | null;
  repository: string | null;
  ref: string | null;
  receivedAt: string;
  /** The normalized event, for accepted pushes. */
  event: PushReceivedV1 | null;
  decisions?: EventDecisionView[];
}

export interface EventsQuery {
  sourceId?: string;
  repository?: string;
  outcome?: string;
  since?: string;
  until?: string;
  cursor?: string;
  limit?: number;
}

export const eventsList = defineRpc<EventsQuery, Page<EventView>>('rules.events.list');
export const eventsGet = defineRpc<{ id: string }, EventView>('rules.events.get');
export const eventsRedeliver = defineRpc<{ id: string }, EventView>('rules.events.redeliver');

// ---- builds and logs (log-service) ----
export interface BuildStepView {
  name: StepName;
  status: StepStatus;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  message: string | null;
}

export interface BuildView {
  id: string;
  ruleId: string;
  ruleName: string;
  ruleDeleted: boolean;
  imageRepository: string;
  sourceId: string;
  trigger: BuildTriggerInfo;
  status: BuildStatus;
  ref: string;
  commit: string;
  tags: string[];
  /** The pushed manifest, or the image index when there are several platforms or attestations. */
  digest: string | null;
  /** Each platform's image in the index. */
  images: PlatformImage[];
  workflowId: string;
  failure: BuildFailure | null;
  /** The build this one repeats (a rebuild), and the builds that repeat this one (oldest first; with one build only). */
  rebuildOf: string | null;
  rebuilds?: string[];
  steps?: BuildStepView[];
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface BuildsQuery {
  ruleId?: string;
  imageRepository?: string;
  /** Image repositories under these namespaces only (token scope); absent = all. */
  namespaces?: string[];
  status?: BuildStatus;
  ref?: string;
  triggerKind?: BuildTriggerInfo['kind'];
  /** Rebuilds of this build. */
  rebuildOf?: string;
  /** ISO-8601 instants bounding createdAt. */
  since?: string;
  until?: string;
  cursor?: string;
  limit?: number;
}

export interface LogLineView {
  id: string;
  seq: number;
  step: StepName;
  attempt: number;
  stream: LogStream;
  time: string;
  text: string;
}

export interface LogsQuery {
  buildId: string;
  /** Lines after this line id. */
  cursor?: string;
  limit?: number;
  /** The last N lines (ignores cursor). */
  tail?: number;
  step?: StepName;
  stream?: LogStream;
  attempt?: number;
  /** Case-insensitive text the line contains. */
  contains?: string;
  /** The caller's namespaces (`*` = all): a build outside them is refused (403) without another round trip. */
  namespaces?: string[];
}

/** Lines matching a text across the builds of a rule or an image repository, in a time range (newest first). */
export interface LogSearchQuery {
  contains: string;
  ruleId?: string;
  imageRepository?: string;
  /** Only these namespaces (the caller's token); `*` = all. */
  namespaces?: string[];
  /** ISO-8601 instants bounding the line's time; default the last 7 days. */
  since?: string;
  until?: string;
  cursor?: string;
  limit?: number;
}
export interface LogSearchHit extends LogLineView {
  buildId: string;
  ruleId: string;
  imageRepository: string;
  ref: string;
  commit: string;
}
export const logsSearch = defineRpc<LogSearchQuery, Page<LogSearchHit>>('logs.lines.search');

export interface RetentionRun {
  buildsDeleted: number;
  linesDeleted: number;
}
/** Run the retention job now (operators; it also runs on its own schedule). */
export const logsRetentionRun = defineRpc<Record<string, never>, RetentionRun>('logs.retention.run');

export const buildsList = defineRpc<BuildsQuery, Page<BuildView>>('logs.builds.list');
export const buildsGet = defineRpc<{ id: string }, BuildView>('logs.builds.get');
export const logsList = defineRpc<LogsQuery, Page<LogLineView>>('logs.lines.list');
/** The same page as `logsList`, answered as the JSON bytes the gateway sends on (the log reader's hot path). */
export const logsPage = defineBytesRpc<LogsQuery, Page<LogLineView>>('logs.lines.page');
export const buildsDelete = defineRpc<{ id: string }, { deleted: true }>('logs.builds.delete');

// ---- health ----
export type HealthState = 'up' | 'down';
export interface HealthReport {
  service: string;
  status: HealthState;
  checks: Record<string, { status: HealthState; detail?: string }>;
}

/** A registry builds push to or pull from, with its credentials (the password is write-only). */
export interface RegistryInput {
  name?: string;
  /** `host` or `host:port`, as in image names (`ghcr.io`, `registry.example.com:5000`). */
  host: string;
  username: string;
  password: string;
  /** Plain HTTP (a registry on a private address); default false. */
  insecure?: boolean;
}
export interface RegistryView {
  id: string;
  name: string;
  host: string;
  username: string;
  insecure: boolean;
  createdAt: string;
  updatedAt: string;
}
/** What the worker gets for a build: never shown by the API. */
export interface RegistryCredentials {
  id: string;
  host: string;
  username: string;
  password: string;
  insecure: boolean;
}
export const registriesCreate = defineRpc<RegistryInput, RegistryView>('rules.registries.create');
export const registriesList = defineRpc<Record<string, never>, Page<RegistryView>>('rules.registries.list');
export const registriesGet = defineRpc<{ id: string }, RegistryView>('rules.registries.get');
export const registriesUpdate = defineRpc<{ id: string; patch: Partial<RegistryInput> }, RegistryView>('rules.registries.update');
export const registriesDelete = defineRpc<{ id: string }, { deleted: true }>('rules.registries.delete');
/** The credentials of the registries a build may use, for the worker running it (never for the API). */
export const registriesCredentials = defineRpc<{ ids: string[] }, RegistryCredentials[]>('rules.registries.credentials');
