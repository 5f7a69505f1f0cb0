import { baseConfigSchema, checkTemporalTls, port, temporalConfigFields } from '@kiln/platform';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

export const orchestratorConfigSchema = baseConfigSchema
  .extend({
    KILN_ORCHESTRATOR_PORT: port(8084),
    ...temporalConfigFields,
    KILN_TASK_QUEUE: z.string().default('kiln-builds'),
    /** This worker's BuildKit daemon: `unix://` socket beside it, or `tcp://` on a separate build host. */
    KILN_BUILDKIT_ADDR: z
      .string()
      .regex(/^(unix|tcp):\/\//, 'unix:///path or tcp://host:port')
      .default(`unix://${join(homedir(), '.kiln', 'buildkitd.sock')}`),
    /** buildctl of the same BuildKit release. */
    KILN_BUILDCTL: z.string().default(join(homedir(), '.kiln', 'bin', 'buildctl')),
    /** A docker config.json with the credentials of the registries builds push to (and pull base images from). */
    KILN_REGISTRY_AUTH_FILE: z.string().default(join(homedir(), '.kiln', 'registry-auth', 'config.json')),
    /** Registries spoken to over plain HTTP, comma-separated hosts or host:port (a registry on a private address). */
    KILN_INSECURE_REGISTRIES: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
    /** One bare git mirror per repository, kept across builds: a new commit fetches only its delta. */
    KILN_MIRROR_DIR: z.string().default(join(homedir(), '.kiln', 'mirrors')),
    /** Mirrors beyond this size in all are evicted, least recently used first. */
    KILN_MIRROR_BUDGET_MB: z.coerce.number().int().min(1).default(10_240),
    /**
     * A build's layer cache export (after it is reported done) first waits this long for a newer build of the same
     * rule to start on this worker: that build's export would replace it, so it is skipped. 0 exports at once.
     */
    KILN_CACHE_EXPORT_QUIET_MS: z.coerce.number().int().min(0).max(600_000).default(2_000),
    /** Where clones live while a build runs. */
    KILN_WORK_DIR: z.string().default(join(homedir(), '.kiln', 'work')),
    /**
     * Names this worker's own task queue (steps after clone run here). Stable across restarts of the process, so a
     * restarted worker picks up the steps of the builds whose clones it holds on disk.
     */
    KILN_WORKER_ID: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default(hostname()),
    /** Builds this worker runs at once; more wait as queued. */
    KILN_MAX_CONCURRENT_BUILDS: z.coerce.number().int().min(1).max(64).default(2),
    /**
     * On SIGTERM the worker takes no new work and lets running steps finish for up to this long; a step still running
     * then is cancelled and runs again (here after a restart, or on another worker). Keep the container runtime's stop
     * timeout above it (compose `stop_grace_period`).
     */
    KILN_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(25),
  })
  .superRefine(checkTemporalTls);
export type OrchestratorConfig = z.infer<typeof orchestratorConfigSchema>;
