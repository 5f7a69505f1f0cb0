import { useState, type FormEvent } from 'react';
import { isAdmin, ok, type Schemas, type Session, type Source } from '../api';
import { Alert, useAction, useLoad } from '../hooks';
import { ColumnHeads, Status, when } from './format';

type Provider = Schemas['SourceView']['provider'];
const PROVIDERS: Array<[Provider, string]> = [
  ['github', 'GitHub'],
  ['gitlab', 'GitLab'],
  ['gitee', 'Gitee'],
  ['coding', 'CODING'],
  ['git', 'Any git URL'],
];

/** Connected code sources with their state; connect, re-authorize and delete (admins). */
export function Sources({ session }: { session: Session }) {
  const sources = useLoad(async () => ok(await session.client.GET('/api/v1/sources')).items, []);
  const [created, setCreated] = useState<Schemas['CreatedSourceView'] | null>(null);
  const admin = isAdmin(session);
  return (
    <section>
      <h1>Code sources</h1>
      <Alert text={sources.error} />
      <table>
        <ColumnHeads names={['Name', 'Host', 'State', 'Webhook URL', admin && 'Actions']} />
        <tbody>
          {sources.data?.map((s) => (
            <SourceRow key={s.id} session={session} source={s} admin={admin} onChanged={sources.reload} />
          ))}
        </tbody>
      </table>
      {admin ? <Connect session={session} onCreated={(s) => (setCreated(s), sources.reload())} /> : <p className="hint">Only an admin token connects sources.</p>}
      {created && (
        <div role="status" className="notice">
          <p>
            Connected <strong>{created.name}</strong>. Add this webhook to the repository; the secret is shown once:
          </p>
          <dl className="facts">
            <dt>Payload URL</dt>
            <dd>
              <code>{created.webhookUrl}</code>
            </dd>
            <dt>Secret</dt>
            <dd>
              <code data-testid="webhook-secret">{created.webhookSecret}</code>
            </dd>
            {created.sshPublicKey && (
              <>
                <dt>Deploy key</dt>
                <dd>
                  <code>{created.sshPublicKey}</code>
                </dd>
              </>
            )}
          </dl>
        </div>
      )}
    </section>
  );
}

function SourceRow({ session, source, admin, onChanged }: { session: Session; source: Source; admin: boolean; onChanged: () => void }) {
  const action = useAction();
  const [token, setToken] = useState('');
  const remove = () => {
    if (!window.confirm(`Delete source ${source.name}?`)) return;
    void action.run(async () => ok(await session.client.DELETE('/api/v1/sources/{id}', { params: { path: { id: source.id } } }))).then((done) => done && onChanged());
  };
  const reauthorize = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => ok(await session.client.PATCH('/api/v1/sources/{id}', { params: { path: { id: source.id } }, body: { token } }))).then((done) => done && (setToken(''), onChanged()));
  };
  return (
    <tr>
      <td>{source.name}</td>
      <td>
        {source.provider} {source.baseUrl ? `(${source.baseUrl})` : ''}
      </td>
      <td>
        <Status status={source.status} />
        {source.status === 'unauthorized' && (
          <span className="hint">
            {' '}
            {source.statusReason} · {when(source.statusAt)}
          </span>
        )}
      </td>
      <td>
        <code>{source.webhookUrl}</code>
      </td>
      {admin && (
        <td>
          {source.status === 'unauthorized' && (
            <form className="inline" onSubmit={reauthorize}>
              <input type="password" aria-label={`new token for ${source.name}`} value={token} onChange={(e) => setToken(e.target.value)} required />
              <button type="submit">Re-authorize</button>
            </form>
          )}
          <button type="button" className="danger" onClick={remove} aria-label={`delete source ${source.name}`}>
            Delete
          </button>
          <Alert text={action.error} />
        </td>
      )}
    </tr>
  );
}

function Connect({ session, onCreated }: { session: Session; onCreated: (s: Schemas['CreatedSourceView']) => void }) {
  const [provider, setProvider] = useState<Provider>('github');
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [auth, setAuth] = useState<'token' | 'password' | 'ssh'>('token');
  const [token, setToken] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const action = useAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await action.run(async () => {
      const body = {
        provider,
        name: name.trim(),
        ...(baseUrl.trim() ? { baseUrl: baseUrl.trim() } : {}),
        ...(auth === 'token' ? { token } : auth === 'password' ? { username, password } : { generateSshKey: true }),
      };
      onCreated(ok(await session.client.POST('/api/v1/sources', { body })));
      setName('');
      setToken('');
      setPassword('');
    });
  };
  // The host's authorization page, where Kiln has an OAuth app for it (KILN_OAUTH_*); it sends the browser back to the API.
  const oauth = () =>
    action.run(async () => {
      const started = ok(
        await session.client.POST('/api/v1/sources/oauth/{provider}', { params: { path: { provider } }, body: { name: name.trim(), ...(baseUrl.trim() ? { baseUrl: baseUrl.trim() } : {}) } }),
      );
      window.location.assign(started.authorizeUrl);
    });
  return (
    <form onSubmit={submit} className="panel">
      <h2>Connect a source</h2>
      <label htmlFor="provider">Host</label>
      <select id="provider" value={provider} onChange={(e) => setProvider(e.target.value as Provider)}>
        {PROVIDERS.map(([p, label]) => (
          <option key={p} value={p}>
            {label}
          </option>
        ))}
      </select>
      <label htmlFor="source-name">Name</label>
      <input id="source-name" value={name} onChange={(e) => setName(e.target.value)} required />
      <label htmlFor="base-url">Base URL (a self-hosted instance; empty for the public host)</label>
      <input id="base-url" type="url" value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} />
      <fieldset>
        <legend>Credentials</legend>
        <label className="radio">
          <input type="radio" name="auth" checked={auth === 'token'} onChange={() => setAuth('token')} /> Access token
        </label>
        <label className="radio">
          <input type="radio" name="auth" checked={auth === 'password'} onChange={() => setAuth('password')} /> User and password
        </label>
        {provider === 'git' && (
          <label className="radio">
            <input type="radio" name="auth" checked={auth === 'ssh'} onChange={() => setAuth('ssh')} /> SSH key (Kiln makes one)
          </label>
        )}
        {auth === 'token' && (
          <label>
            Token <input type="password" value={token} onChange={(e) => setToken(e.target.value)} required />
          </label>
        )}
        {auth === 'password' && (
          <>
            <label>
              User <input value={username} onChange={(e) => setUsername(e.target.value)} required />
            </label>
            <label>
              Password <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required />
            </label>
          </>
        )}
      </fieldset>
      <Alert text={action.error} />
      <button type="submit" disabled={action.busy}>
        Connect
      </button>
      {provider !== 'git' && (
        <button type="button" disabled={action.busy || !name.trim()} onClick={oauth}>
          Connect through {PROVIDERS.find(([p]) => p === provider)?.[1]} (OAuth)
        </button>
      )}
    </form>
  );
}
