import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { ok, type BuildRule, type Platform, type Schemas, type Session } from '../api';
import { Alert, useAction, useLoad } from '../hooks';

type TriggerType = Schemas['Trigger']['type'];
type Part = 'ref' | 'time' | 'commit';
const PARTS: Part[] = ['ref', 'time', 'commit'];
const PLATFORMS: Platform[] = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6', 'linux/386', 'linux/ppc64le', 'linux/s390x', 'linux/riscv64'];

/** Creates or edits a rule: source → repository → trigger → Dockerfile → context → tag rule, with the exact tag it makes. */
export function RuleDialog({ session, namespace, repository, rule, onClose }: { session: Session; namespace: string; repository: string; rule: BuildRule | null; onClose: (saved: boolean) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const sources = useLoad(async () => ok(await session.client.GET('/api/v1/sources')).items, []);
  const [sourceId, setSourceId] = useState(rule?.sourceId ?? '');
  const [repo, setRepo] = useState(rule?.repository ?? '');
  const [triggerType, setTriggerType] = useState<TriggerType>(rule?.trigger.type ?? 'branch');
  const [branch, setBranch] = useState(rule?.trigger.type === 'branch' ? rule.trigger.branch : 'main');
  const [pattern, setPattern] = useState(rule?.trigger.type === 'refRegex' ? rule.trigger.pattern : '^refs/heads/.*$');
  const [dockerfilePath, setDockerfilePath] = useState(rule?.dockerfilePath ?? 'Dockerfile');
  const [contextDir, setContextDir] = useState(rule?.contextDir ?? '.');
  const [prefix, setPrefix] = useState(rule?.tagRule.prefix ?? '');
  const [parts, setParts] = useState<Part[]>(rule?.tagRule.parts ?? ['ref', 'time', 'commit']);
  const [autoTrigger, setAutoTrigger] = useState(rule?.autoTrigger ?? true);
  const [sampleRef, setSampleRef] = useState('refs/heads/main');
  const [timeoutSeconds, setTimeoutSeconds] = useState(rule?.timeoutSeconds ?? 3600);
  const [target, setTarget] = useState(rule?.target ?? '');
  const [platforms, setPlatforms] = useState<Platform[]>((rule?.platforms ?? []) as Platform[]);
  const [buildArgs, setBuildArgs] = useState<Array<{ name: string; value?: string; secret: boolean }>>(rule?.buildArgs.map((a) => ({ ...a })) ?? []);
  const save = useAction();

  // The first source until the user picks one. From the current state, not this render's: the effect runs after the
  // list is painted, and a source picked in between must not be replaced by the first one.
  useEffect(() => {
    const first = sources.data?.[0]?.id;
    if (first) setSourceId((current) => current || first);
  }, [sources.data]);
  const repos = useLoad(
    async () => (sourceId ? ok(await session.client.GET('/api/v1/sources/{id}/repositories', { params: { path: { id: sourceId }, query: { limit: 100 } } })).items : []),
    [sourceId],
  );

  const patternProblem = useMemo(() => {
    if (triggerType !== 'refRegex') return null;
    try {
      new RegExp(pattern);
      return null;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }, [triggerType, pattern]);
  const trigger: Schemas['Trigger'] = triggerType === 'branch' ? { type: 'branch', branch } : triggerType === 'refRegex' ? { type: 'refRegex', pattern } : { type: triggerType };
  const body = {
    sourceId,
    repository: repo.trim(),
    trigger,
    dockerfilePath,
    contextDir,
    tagRule: { prefix, parts },
    autoTrigger,
    timeoutSeconds,
    target: target.trim() || null,
    platforms,
    // A secret shown without its value keeps the stored one (the API never shows it again).
    buildArgs: buildArgs.filter((a) => a.name.trim()).map((a) => (a.secret && !a.value ? { name: a.name, secret: true } : { name: a.name, value: a.value ?? '', secret: a.secret })),
  };
  const preview = usePreview(session, namespace, repository, body, sampleRef);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const done = await save.run(async () => {
      if (rule) ok(await session.client.PATCH('/api/v1/build-rules/{id}', { params: { path: { id: rule.id } }, body }));
      else ok(await session.client.POST('/api/v1/namespaces/{ns}/repositories/{repo}/build-rules', { params: { path: { ns: namespace, repo: repository } }, body }));
    });
    if (done) onClose(true);
  };
  const move = (i: number, by: number) =>
    setParts((p) => {
      const next = [...p];
      const [x] = next.splice(i, 1);
      next.splice(i + by, 0, x);
      return next;
    });

  return (
    <dialog ref={dialog} aria-labelledby="rule-title" onCancel={() => onClose(false)}>
      <form onSubmit={submit} className="rule-form">
        <h2 id="rule-title">{rule ? `Edit rule ${rule.name}` : `New build rule for ${namespace}/${repository}`}</h2>
        <label htmlFor="source">Code source</label>
        <select id="source" value={sourceId} onChange={(e) => setSourceId(e.target.value)} required>
          {sources.data?.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name} ({s.provider}){s.status === 'unauthorized' ? ' · unauthorized' : ''}
            </option>
          ))}
        </select>
        <label htmlFor="repository">Repository</label>
        <input id="repository" list="repositories" value={repo} onChange={(e) => setRepo(e.target.value)} placeholder="owner/name" required />
        <datalist id="repositories">
          {repos.data?.map((r) => (
            <option key={r.fullName} value={r.fullName} />
          ))}
        </datalist>
        {repos.error && <p className="hint">The host's repository list is unavailable ({repos.error}); type owner/name.</p>}
        <fieldset>
          <legend>Trigger</legend>
          {(
            [
              ['branch', 'Push to a branch'],
              ['tag', 'Push of a new tag'],
              ['anyBranch', 'Push to any branch'],
              ['refRegex', 'Ref matches a regular expression'],
            ] as const
          ).map(([value, label]) => (
            <label key={value} className="radio">
              <input type="radio" name="trigger" value={value} checked={triggerType === value} onChange={() => setTriggerType(value)} /> {label}
            </label>
          ))}
          {triggerType === 'branch' && (
            <label>
              Branch <input value={branch} onChange={(e) => setBranch(e.target.value)} required />
            </label>
          )}
          {triggerType === 'refRegex' && (
            <label>
              Pattern (on the full ref) <input value={pattern} onChange={(e) => setPattern(e.target.value)} aria-invalid={patternProblem !== null} required />
              {patternProblem && <span className="error">{patternProblem}</span>}
            </label>
          )}
        </fieldset>
        <label htmlFor="dockerfile">Dockerfile path</label>
        <input id="dockerfile" value={dockerfilePath} onChange={(e) => setDockerfilePath(e.target.value)} required />
        <label htmlFor="context">Build context</label>
        <input id="context" value={contextDir} onChange={(e) => setContextDir(e.target.value)} required />
        <fieldset>
          <legend>Tag rule</legend>
          <label>
            Prefix <input value={prefix} onChange={(e) => setPrefix(e.target.value)} />
          </label>
          <ol className="parts">
            {parts.map((p, i) => (
              <li key={p}>
                {p}
                <button type="button" aria-label={`move ${p} earlier`} disabled={i === 0} onClick={() => move(i, -1)}>
                  ↑
                </button>
                <button type="button" aria-label={`move ${p} later`} disabled={i === parts.length - 1} onClick={() => move(i, 1)}>
                  ↓
                </button>
                <button type="button" aria-label={`remove ${p}`} onClick={() => setParts(parts.filter((x) => x !== p))}>
                  ×
                </button>
              </li>
            ))}
          </ol>
          {PARTS.filter((p) => !parts.includes(p)).map((p) => (
            <button key={p} type="button" onClick={() => setParts([...parts, p])}>
              Add {p}
            </button>
          ))}
        </fieldset>
        <details>
          <summary>Build options</summary>
          <label>
            Timeout (seconds) <input type="number" min={10} max={86400} value={timeoutSeconds} onChange={(e) => setTimeoutSeconds(Number(e.target.value))} />
          </label>
          <label>
            Target stage (empty: the last) <input value={target} onChange={(e) => setTarget(e.target.value)} />
          </label>
          <fieldset>
            <legend>Platforms (none: the worker's own)</legend>
            {PLATFORMS.map((p) => (
              <label key={p} className="radio">
                <input type="checkbox" checked={platforms.includes(p)} onChange={(e) => setPlatforms(e.target.checked ? [...platforms, p] : platforms.filter((x) => x !== p))} /> {p}
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>Build arguments</legend>
            {buildArgs.map((a, i) => (
              <div key={i} className="inline">
                <input aria-label={`argument ${i + 1} name`} value={a.name} onChange={(e) => setBuildArgs(buildArgs.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)))} />
                <input
                  aria-label={`argument ${i + 1} value`}
                  type={a.secret ? 'password' : 'text'}
                  placeholder={a.secret && rule ? '(unchanged)' : ''}
                  value={a.value ?? ''}
                  onChange={(e) => setBuildArgs(buildArgs.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)))}
                />
                <label className="radio">
                  <input type="checkbox" checked={a.secret} onChange={(e) => setBuildArgs(buildArgs.map((x, j) => (j === i ? { ...x, secret: e.target.checked } : x)))} /> secret
                </label>
                <button type="button" aria-label={`remove argument ${i + 1}`} onClick={() => setBuildArgs(buildArgs.filter((_, j) => j !== i))}>
                  ×
                </button>
              </div>
            ))}
            <button type="button" onClick={() => setBuildArgs([...buildArgs, { name: '', value: '', secret: false }])}>
              Add argument
            </button>
          </fieldset>
        </details>
        <label className="switch">
          <input type="checkbox" checked={autoTrigger} onChange={(e) => setAutoTrigger(e.target.checked)} /> Build automatically on push
        </label>
        <fieldset>
          <legend>Preview</legend>
          <label>
            For the ref <input aria-label="preview ref" value={sampleRef} onChange={(e) => setSampleRef(e.target.value)} />
          </label>
          <output aria-live="polite" data-testid="tag-preview">
            {preview.error ? (
              <span className="error">{preview.error}</span>
            ) : preview.result ? (
              <>{preview.result.wouldFire ? `fires: ${preview.result.image}` : `does not fire: ${preview.result.reason}`}</>
            ) : (
              '…'
            )}
          </output>
        </fieldset>
        <Alert text={save.error} />
        <div className="actions">
          <button type="submit" disabled={save.busy || patternProblem !== null}>
            {rule ? 'Save' : 'Create rule'}
          </button>
          <button type="button" onClick={() => onClose(false)}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

/**
 * Would this ref fire the rule as typed, and the exact tag it would get: rendered by the server (the same code that
 * tags builds) for the unsaved rule, 250 ms after the last change. The commit stands in for the pushed one.
 */
function usePreview(session: Session, namespace: string, repository: string, body: Record<string, unknown>, ref: string) {
  const [state, setState] = useState<{ result: Schemas['PreviewResult'] | null; error: string | null }>({ result: null, error: null });
  const key = JSON.stringify([body, ref]);
  useEffect(() => {
    const timer = setTimeout(async () => {
      const answer = await session.client.POST('/api/v1/namespaces/{ns}/repositories/{repo}/build-rules/preview', {
        params: { path: { ns: namespace, repo: repository } },
        body: { rule: body as never, ref, commit: '0123456789abcdef0123456789abcdef01234567' },
      });
      setState(answer.data ? { result: answer.data, error: null } : { result: null, error: (answer.error as { message?: string } | undefined)?.message ?? 'no preview' });
    }, 250);
    return () => clearTimeout(timer);
  }, [key]);
  return state;
}
