import { Inject, Injectable } from '@nestjs/common';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { cloneUrlFor, NotFoundError, parseRef, ValidationError } from '@kiln/domain';
import { BUILD_WORKFLOW, BuildDescriptor, BuildInput, buildsRecordQueued, buildStatusV1, RequestOf, BuildTriggerInfo, SEARCH_ATTRIBUTES, SUPERSEDE_SIGNAL, SupersedeRequest } from '@kiln/contracts';
import { ClientProxy } from '@nestjs/microservices';
import { callRpc, EventBus, JsonLogger, KILN_CONFIG, NATS_CLIENT } from '@kiln/platform';
import { RulesConfig } from '../config';
import { TEMPORAL_CLIENT } from '../crypto/tokens';
import { BuildRuleEntity } from '../rules/build-rule.entity';
import { CodeSourceEntity } from '../sources/code-source.entity';
import { RegistriesService } from '../registries/registries.service';

const keys = {
  ruleId: defineSearchAttributeKey(SEARCH_ATTRIBUTES.ruleId, SearchAttributeType.KEYWORD),
  imageRepository: defineSearchAttributeKey(SEARCH_ATTRIBUTES.imageRepository, SearchAttributeType.KEYWORD),
  ref: defineSearchAttributeKey(SEARCH_ATTRIBUTES.ref, SearchAttributeType.KEYWORD),
  commit: defineSearchAttributeKey(SEARCH_ATTRIBUTES.commit, SearchAttributeType.KEYWORD),
  triggerKind: defineSearchAttributeKey(SEARCH_ATTRIBUTES.triggerKind, SearchAttributeType.KEYWORD),
};

export interface StartBuild {
  rule: BuildRuleEntity;
  source: CodeSourceEntity;
  buildId: string;
  workflowId: string;
  ref: string;
  commit: string;
  trigger: BuildTriggerInfo;
  /** Clone URL the host announced, when the source has no base URL of its own. */
  cloneUrl?: string | null;
}

export interface StartedWorkflow {
  buildId: string;
  workflowId: string;
  /** The workflow had already run to its end: nothing was started (it is never run a second time under its id). */
  alreadyFinished: boolean;
}

/**
 * Starts build workflows. A build's workflow id is deterministic, and both id policies are pinned: starting a build
 * whose workflow runs joins it (USE_EXISTING), and one whose workflow has finished is refused (REJECT_DUPLICATE), so no
 * path (a redelivered push, a re-evaluated event) runs a finished build again under its id. Running again is a
 * rebuild: a new build with an id of its own.
 */
@Injectable()
export class BuildStarter {
  constructor(
    @Inject(TEMPORAL_CLIENT) private readonly temporal: Client,
    @Inject(KILN_CONFIG) private readonly config: RulesConfig,
    private readonly logger: JsonLogger,
    private readonly bus: EventBus,
    private readonly registries: RegistriesService,
    @Inject(NATS_CLIENT) private readonly rpc: ClientProxy,
  ) {}

  async cancel(workflowId: string): Promise<{ cancelRequested: true }> {
    if (typeof workflowId !== 'string' || !workflowId.startsWith('build-')) throw new ValidationError([{ field: 'workflowId', message: 'is not a build workflow id' }]);
    try {
      await this.temporal.workflow.getHandle(workflowId).cancel();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError('build workflow', workflowId);
      throw err;
    }
    this.logger.log({ msg: 'build cancel requested', workflowId }, 'BuildStarter');
    return { cancelRequested: true };
  }

  /**
   * Ask this rule's other running builds of the same branch to stand down. Each decides in its own workflow
   * (no race with its push step): one that has started pushing finishes.
   */
  private async supersedeOlder(b: StartBuild, keepWorkflowId: string): Promise<void> {
    const query = `${SEARCH_ATTRIBUTES.ruleId} = '${b.rule.id}' AND ${SEARCH_ATTRIBUTES.ref} = '${b.ref.replace(/'/g, "\\'")}' AND ExecutionStatus = 'Running'`;
    try {
      for await (const wf of this.temporal.workflow.list({ query })) {
        if (wf.workflowId === keepWorkflowId) continue;
        const request: SupersedeRequest = { byBuildId: b.buildId };
        await this.temporal.workflow
          .getHandle(wf.workflowId)
          .signal(SUPERSEDE_SIGNAL, request)
          .catch(() => undefined);
        this.logger.log({ msg: 'older build superseded', workflowId: wf.workflowId, by: b.buildId }, 'BuildStarter');
      }
    } catch (err) {
      // The new build is started either way; the older one then simply finishes.
      this.logger.warn({ msg: 'could not look up older builds to supersede', err: String(err) }, 'BuildStarter');
    }
  }

  /** Kiln's registry, or the rule's own target; and the registries whose credentials the worker fetches. */
  private async target(rule: BuildRuleEntity): Promise<Pick<BuildInput, 'registry' | 'registryInsecure' | 'registryIds'>> {
    const registryIds = [...(rule.pushRegistryId ? [rule.pushRegistryId] : []), ...(rule.pullRegistryIds ?? []).filter((id) => id !== rule.pushRegistryId)];
    if (!rule.pushRegistryId) return { registry: this.config.KILN_REGISTRY, registryIds };
    const target = await this.registries.entity(rule.pushRegistryId);
    return { registry: target.host, registryInsecure: target.insecure, registryIds };
  }

  /** Best effort: when log-service does not answer in time, its consumer of the event writes the record. */
  private async recordNow(report: RequestOf<typeof buildsRecordQueued>): Promise<void> {
    try {
      await callRpc(this.rpc, buildsRecordQueued, report, 2_000);
    } catch (err) {
      this.logger.warn({ msg: 'build record not written at once; log-service writes it from the event', buildId: report.buildId, err: String(err) }, 'BuildStarter');
    }
  }

  async start(b: StartBuild): Promise<StartedWorkflow> {
    const parsed = parseRef(b.ref);
    const imageRepository = `${b.rule.namespace}/${b.rule.imageRepository}`;
    const target = await this.target(b.rule);
    const descriptor: BuildDescriptor = {
      buildId: b.buildId,
      workflowId: b.workflowId,
      ruleId: b.rule.id,
      ruleName: b.rule.name,
      sourceId: b.source.id,
      imageRepository,
      trigger: b.trigger,
      ref: b.ref,
      refType: parsed.type,
      refName: parsed.name,
      commit: b.commit,
    };
    const input: BuildInput = {
      descriptor,
      source: {
        id: b.source.id,
        provider: b.source.provider,
        cloneUrl: b.source.baseUrl || !b.cloneUrl ? cloneUrlFor(b.source.provider, b.source.baseUrl, b.rule.repository) : b.cloneUrl,
      },
      dockerfilePath: b.rule.dockerfilePath,
      contextDir: b.rule.contextDir,
      tagRule: b.rule.tagRule,
      ...target,
      timeoutSeconds: b.rule.timeoutSeconds,
      buildArgs: Object.fromEntries(b.rule.buildArgs.filter((a) => !a.secret).map((a) => [a.name, a.value ?? ''])),
      secretBuildArgs: b.rule.buildArgs.filter((a) => a.secret).map((a) => a.name),
      submodules: b.rule.submodules,
      target: b.rule.target,
      platforms: b.rule.platforms ?? [],
      // One layer cache per rule, in a repository beside the image's, so every worker reuses what any one built.
      cacheRef: `${target.registry}/${imageRepository}/kiln-cache:rule-${b.rule.id}`,
    };
    // The record exists (queued) from here on. A build started by request has a new id, so its record is written
    // before the workflow starts: the id the caller gets back can be read at once. A push's build has a deterministic
    // id that may have run already; its record is written once the workflow is known to be new (or still running),
    // so a refused start leaves no record behind (the worker's first report carries the descriptor too).
    const report = { buildId: b.buildId, at: new Date().toISOString(), status: 'queued' as const, descriptor };
    const queued = () => this.bus.publish(buildStatusV1, report, { msgId: `${b.buildId}:queued` });
    // The event is the durable way in; log-service is also asked to write the record now (beside the workflow's start),
    // since it consumes the event a moment later: without this, a caller reading the build at once could get a 404.
    if (b.trigger.kind !== 'push') await queued();
    const recorded = b.trigger.kind !== 'push' ? this.recordNow(report) : Promise.resolve();
    let handle: Awaited<ReturnType<Client['workflow']['start']>>;
    try {
      const starting = this.temporal.workflow.start(BUILD_WORKFLOW, {
        taskQueue: this.config.KILN_TASK_QUEUE,
        workflowId: b.workflowId,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        args: [input],
        memo: { ruleName: b.rule.name, buildId: b.buildId },
        typedSearchAttributes: [
          { key: keys.ruleId, value: b.rule.id },
          { key: keys.imageRepository, value: imageRepository },
          { key: keys.ref, value: b.ref },
          { key: keys.commit, value: b.commit },
          { key: keys.triggerKind, value: b.trigger.kind },
        ],
      });
      [handle] = await Promise.all([starting, recorded]);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      this.logger.log({ msg: 'build already ran; not started again', buildId: b.buildId, workflowId: b.workflowId }, 'BuildStarter');
      return { buildId: b.buildId, workflowId: b.workflowId, alreadyFinished: true };
    }
    if (b.trigger.kind === 'push') await queued();
    if (b.rule.cancelSuperseded && b.trigger.kind === 'push' && parsed.type === 'branch') await this.supersedeOlder(b, handle.workflowId);
    this.logger.log(
      { msg: 'build workflow started', buildId: b.buildId, workflowId: handle.workflowId, ruleId: b.rule.id, ...(b.trigger.kind === 'push' ? { eventId: b.trigger.eventId } : {}) },
      'BuildStarter',
    );
    return { buildId: b.buildId, workflowId: handle.workflowId, alreadyFinished: false };
  }
}
