import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { branchRef, ConflictError, isSafeRefName, KilnError, pushWorkflowId, tagRef, UnprocessableError, ValidationError, cloneUrlFor } from '@kiln/domain';
import type { BuildTriggerInfo, RebuildRequest, StartBuildRequest, StartedBuild } from '@kiln/contracts';
import type { BuildRuleEntity } from '../rules/build-rule.entity';
import type { CodeSourceEntity } from '../sources/code-source.entity';
import { resolveRemoteRef, UrlRefused } from '@kiln/platform';
import { RulesService } from '../rules/rules.service';
import { SourcesService } from '../sources/sources.service';
import { BuildStarter } from './build-starter.service';

/** Build now: any branch, tag or commit, whatever the rule's trigger and auto-trigger say. */
@Injectable()
export class ManualBuilds {
  constructor(
    private readonly rules: RulesService,
    private readonly sources: SourcesService,
    private readonly starter: BuildStarter,
  ) {}

  async start(req: StartBuildRequest): Promise<StartedBuild> {
    const given = (['branch', 'tag', 'commit'] as const).filter((k) => req[k] !== undefined && req[k] !== null);
    const problems = [];
    if (given.length !== 1 && !(given.length === 2 && given.includes('commit') && given.includes('branch')))
      problems.push({ field: '(body)', message: 'give exactly one of branch, tag or commit (a commit may also name its branch)' });
    for (const k of ['branch', 'tag'] as const)
      if (req[k] !== undefined && (typeof req[k] !== 'string' || !isSafeRefName(req[k] as string))) problems.push({ field: k, message: 'is not a valid ref name' });
    if (req.commit !== undefined && (typeof req.commit !== 'string' || !/^[0-9a-f]{40}$/i.test(req.commit))) problems.push({ field: 'commit', message: 'must be a full 40-character commit id' });
    if (problems.length > 0) throw new ValidationError(problems);

    const rule = await this.rules.entity(req.ruleId);
    const source = await this.sources.entity(rule.sourceId);
    const url = cloneUrlFor(source.provider, source.baseUrl, rule.repository);
    let ref: string;
    let commit: string;
    if (req.commit) {
      commit = req.commit.toLowerCase();
      ref = req.branch ? branchRef(req.branch) : commit;
    } else {
      ref = req.branch ? branchRef(req.branch) : tagRef(req.tag as string);
      const creds = await this.sources.credentials(source.id);
      let resolved: string | null;
      try {
        await this.sources.hosts.check(url);
        resolved = await resolveRemoteRef(url, ref, { username: creds.username, secret: creds.secret, sshPrivateKey: creds.sshPrivateKey });
      } catch (err) {
        if (err instanceof UrlRefused) throw new UnprocessableError('SourceUrlRefused', `refusing to contact the repository: ${err.message}`);
        const e = err as Error & { type?: string; hint?: string };
        if (e.type === 'SourceAuthFailed') await this.sources.markUnauthorized(source.id, e.message, new Date());
        throw new UnprocessableError(e.type ?? 'GitUnavailable', `${e.message}${e.hint ? ` (${e.hint})` : ''}`);
      }
      if (!resolved) throw new UnprocessableError('RefNotFound', `${req.branch ? 'branch' : 'tag'} ${req.branch ?? req.tag} does not exist on ${url}`);
      commit = resolved;
    }
    return this.startNew(rule, source, ref, commit, { kind: 'manual', by: req.by });
  }

  /**
   * Run a build again: the same ref and commit, with the rule as it is now (a fixed secret, registry or Dockerfile
   * path), as a new build of its own (id, record, tags, workflow) linked to the one it repeats.
   */
  async rebuild(req: RebuildRequest): Promise<StartedBuild & { rebuildOf: string }> {
    // The request passed its schema (ids, ref, a full commit id) on the way in.
    let rule;
    try {
      rule = await this.rules.entity(req.ruleId);
    } catch (err) {
      if (err instanceof KilnError && err.status === 404) throw new ConflictError(`build ${req.of} cannot be rebuilt: its rule was deleted; create a rule and use build now`);
      throw err;
    }
    const source = await this.sources.entity(rule.sourceId);
    const started = await this.startNew(rule, source, req.ref, req.commit.toLowerCase(), { kind: 'rebuild', rebuildOf: req.of, by: req.by });
    return { ...started, rebuildOf: req.of };
  }

  /** A build started by request: a new id, so a new build (never one that ran before). */
  private async startNew(rule: BuildRuleEntity, source: CodeSourceEntity, ref: string, commit: string, trigger: BuildTriggerInfo): Promise<StartedBuild> {
    const buildId = randomUUID();
    const started = await this.starter.start({ rule, source, buildId, workflowId: pushWorkflowId(rule.id, buildId), ref, commit, trigger });
    return { buildId: started.buildId, workflowId: started.workflowId, ref, commit };
  }
}
