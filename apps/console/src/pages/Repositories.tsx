import { useState } from 'react';
import { canWrite, ok, type BuildRule, type Session } from '../api';
import { Alert, useAction, useLoad } from '../hooks';
import { go, href } from '../router';
import { RuleDialog } from './RuleDialog';
import { describeTrigger, Status } from './format';

/** Every image repository that has rules, from the rules the token may see. */
export function Repositories({ session }: { session: Session }) {
  const { data, error } = useLoad(async () => {
    const rules: BuildRule[] = [];
    let cursor: string | undefined;
    do {
      const page = ok(await session.client.GET('/api/v1/build-rules', { params: { query: { limit: 200, cursor, namespace: session.namespaces.includes('*') ? undefined : session.namespaces[0] } } }));
      rules.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && rules.length < 2000);
    return rules;
  }, []);
  const [ns, setNs] = useState('');
  const [repo, setRepo] = useState('');
  const groups = new Map<string, BuildRule[]>();
  for (const r of data ?? []) groups.set(`${r.namespace}/${r.imageRepository}`, [...(groups.get(`${r.namespace}/${r.imageRepository}`) ?? []), r]);
  return (
    <section>
      <h1>Image repositories</h1>
      <Alert text={error} />
      {data && groups.size === 0 && <p>No build rules yet.</p>}
      <ul className="cards">
        {[...groups].map(([name, rules]) => (
          <li key={name}>
            <a href={href('repositories', rules[0].namespace, rules[0].imageRepository)}>{name}</a> · {rules.length} rule{rules.length === 1 ? '' : 's'}
          </li>
        ))}
      </ul>
      <form
        className="inline"
        onSubmit={(e) => {
          e.preventDefault();
          go('repositories', ns.trim(), repo.trim());
        }}
      >
        <h2>Open an image repository</h2>
        <label>
          Namespace <input value={ns} onChange={(e) => setNs(e.target.value)} required />
        </label>
        <label>
          Repository <input value={repo} onChange={(e) => setRepo(e.target.value)} required />
        </label>
        <button type="submit">Open</button>
      </form>
    </section>
  );
}

/** An image repository's image-build tab: its rules, each with its switch, build now, edit and delete. */
export function Repository({ session, namespace, name }: { session: Session; namespace: string; name: string }) {
  const rules = useLoad(
    async () => ok(await session.client.GET('/api/v1/namespaces/{ns}/repositories/{repo}/build-rules', { params: { path: { ns: namespace, repo: name }, query: { limit: 200 } } })).items,
    [namespace, name],
  );
  const [editing, setEditing] = useState<BuildRule | 'new' | null>(null);
  const writer = canWrite(session);
  return (
    <section>
      <p className="crumbs">
        <a href={href('repositories')}>Image repositories</a> / {namespace}/{name}
      </p>
      <h1>
        {namespace}/{name} · image build
      </h1>
      <Alert text={rules.error} />
      {writer && (
        <button type="button" onClick={() => setEditing('new')}>
          New build rule
        </button>
      )}
      {rules.data?.length === 0 && <p>This repository has no build rules.</p>}
      <ul className="rules">
        {rules.data?.map((r) => (
          <RuleRow key={r.id} session={session} rule={r} onEdit={() => setEditing(r)} onChanged={rules.reload} />
        ))}
      </ul>
      {editing && (
        <RuleDialog
          session={session}
          namespace={namespace}
          repository={name}
          rule={editing === 'new' ? null : editing}
          onClose={(saved) => {
            setEditing(null);
            if (saved) rules.reload();
          }}
        />
      )}
    </section>
  );
}

function RuleRow({ session, rule, onEdit, onChanged }: { session: Session; rule: BuildRule; onEdit: () => void; onChanged: () => void }) {
  const action = useAction();
  const [ref, setRef] = useState('');
  const [kind, setKind] = useState<'branch' | 'tag' | 'commit'>('branch');
  const writer = canWrite(session);
  // Branches and tags as the source's host lists them (a git source, or a host that refuses, leaves free text).
  const refs = useLoad(async () => {
    if (!writer || kind === 'commit') return [];
    const path = kind === 'branch' ? '/api/v1/sources/{id}/repositories/{repo}/branches' : '/api/v1/sources/{id}/repositories/{repo}/tags';
    const answer = await session.client.GET(path, { params: { path: { id: rule.sourceId, repo: rule.repository }, query: { limit: 100 } } });
    return answer.data?.items ?? [];
  }, [kind, rule.sourceId, rule.repository, writer]);
  const toggle = () =>
    action
      .run(async () => ok(await session.client.PUT('/api/v1/build-rules/{id}/auto-trigger', { params: { path: { id: rule.id } }, body: { enabled: !rule.autoTrigger } })))
      .then((done) => done && onChanged());
  const buildNow = () =>
    action.run(async () => {
      const started = ok(await session.client.POST('/api/v1/build-rules/{id}/builds', { params: { path: { id: rule.id } }, body: { [kind]: ref.trim() } }));
      go('builds', started.buildId);
    });
  const remove = () => {
    if (!window.confirm(`Delete rule ${rule.name}? Its builds stay readable.`)) return;
    void action.run(async () => ok(await session.client.DELETE('/api/v1/build-rules/{id}', { params: { path: { id: rule.id } } }))).then((done) => done && onChanged());
  };
  return (
    <li className="rule" aria-label={`rule ${rule.name}`}>
      <div className="rule-head">
        <strong>{rule.name}</strong>
        {rule.source.status === 'unauthorized' && <Status status="unauthorized" />}
        <label className="switch">
          <input type="checkbox" role="switch" checked={rule.autoTrigger} disabled={!writer || action.busy} onChange={toggle} aria-label={`auto-trigger of ${rule.name}`} />
          Auto-trigger {rule.autoTrigger ? 'on' : 'off'}
        </label>
      </div>
      <dl className="facts">
        <dt>Source</dt>
        <dd>{rule.repository}</dd>
        <dt>Trigger</dt>
        <dd>{describeTrigger(rule.trigger)}</dd>
        <dt>Dockerfile</dt>
        <dd>
          {rule.dockerfilePath} (context {rule.contextDir})
        </dd>
        <dt>Tag</dt>
        <dd>{[rule.tagRule.prefix, ...rule.tagRule.parts].filter(Boolean).join(' - ')}</dd>
      </dl>
      <p>
        <a href={href('builds') + `?ruleId=${rule.id}`}>Builds of this rule</a>
      </p>
      {writer && (
        <div className="actions">
          <form
            className="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void buildNow();
            }}
          >
            <select aria-label="build what" value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
              <option value="branch">branch</option>
              <option value="tag">tag</option>
              <option value="commit">commit</option>
            </select>
            <input
              aria-label={`${kind} to build`}
              list={`refs-${rule.id}`}
              value={ref}
              onChange={(e) => setRef(e.target.value)}
              placeholder={kind === 'commit' ? 'commit id' : kind === 'tag' ? 'v1.0.0' : 'main'}
              required
            />
            <datalist id={`refs-${rule.id}`}>
              {refs.data?.map((r) => (
                <option key={r.name} value={r.name} label={r.commit.slice(0, 7)} />
              ))}
            </datalist>
            <button type="submit" disabled={action.busy}>
              Build now
            </button>
          </form>
          <button type="button" onClick={onEdit}>
            Edit
          </button>
          <button type="button" className="danger" onClick={remove}>
            Delete
          </button>
        </div>
      )}
      <Alert text={action.error} />
    </li>
  );
}
