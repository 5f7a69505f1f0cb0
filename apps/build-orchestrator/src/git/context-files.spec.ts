import { cleanPath, compilePattern, excludedBy, readIgnoreFile, sparsePlan, TreeFacts } from './context-files';

const facts = (text: string | null, path = '.dockerignore'): TreeFacts => ({ contextIsDirectory: true, dockerfileIsFile: true, ignoreFile: text === null ? null : { path, text } });
const root = { contextDir: '.', dockerfilePath: 'Dockerfile' };

describe('reading .dockerignore as BuildKit does (moby/patternmatcher)', () => {
  it("cleans paths like Go's filepath.Clean", () => {
    expect(['', '.', './x', 'a//b/', 'a/../b', '/a/', '../a', 'a/b/../../..', '/..'].map(cleanPath)).toEqual(['.', '.', 'x', 'a/b', 'b', '/a', '../a', '..', '/']);
  });

  it('skips comments and blank lines, trims, strips a BOM and a leading slash, keeps ! as a prefix', () => {
    expect(readIgnoreFile('\uFEFF# comment\n\n  docs/  \r\n/assets\n! keep.md\n *.log\n#x\n')).toEqual(['docs', 'assets', '!keep.md', '*.log']);
  });

  it('matches as patternmatcher: * and ? stay in one folder, ** spans folders, a matching folder excludes its files', () => {
    const cases: Array<[string, string, boolean]> = [
      ['docs', 'docs', true],
      ['docs', 'src/docs', false],
      ['*.md', 'README.md', true],
      ['*.md', 'a/README.md', false],
      ['?.txt', 'a.txt', true],
      ['?.txt', 'ab.txt', false],
      ['a*b', 'a/b', false],
      ['**', 'any/thing', true],
      ['**/*.log', 'x.log', true],
      ['**/*.log', 'a/b/x.log', true],
      ['**/foo', 'foo', true],
      ['**/foo', 'a/foo', true],
      ['**/foo', 'afoo', false],
      ['a/**', 'a/b/c', true],
      ['a/**', 'a', false],
      ['dir/**/file', 'dir/file', true],
      ['dir/**/file', 'dir/x/y/file', true],
      ['dir/**/file', 'dirx/file', false],
      ['a.b', 'axb', false],
    ];
    expect(cases.map(([p, path]) => [p, path, compilePattern(p)(path)])).toEqual(cases);
    expect(excludedBy([compilePattern('docs')], 'docs/x/y.md')).toBe(true);
    expect(excludedBy([compilePattern('*/tmp')], 'a/tmp/b')).toBe(true);
    expect(excludedBy([compilePattern('*/tmp')], 'a/b/tmp')).toBe(false);
  });
});

describe('sparse-checkout patterns for a build', () => {
  it("leaves out what the context's .dockerignore excludes and keeps the files the frontend reads", () => {
    const plan = sparsePlan(root, facts('assets/\ndocs\n**/*.log\nDockerfile\n.dockerignore\n'));
    expect(plan).toEqual({
      patterns: '/*\n!/assets\n!/docs\n!/**/*.log\n!/Dockerfile\n!/.dockerignore\n/Dockerfile\n/Dockerfile.dockerignore\n/.dockerignore\n',
      excluded: ['assets', 'docs', '**/*.log', 'Dockerfile', '.dockerignore'],
    });
  });

  it('anchors the patterns at the build context', () => {
    const plan = sparsePlan({ contextDir: './app/', dockerfilePath: 'docker/Dockerfile' }, facts('node_modules\n', 'app/.dockerignore'));
    expect(plan.patterns).toBe('/*\n!/app/node_modules\n/docker/Dockerfile\n/docker/Dockerfile.dockerignore\n/app/.dockerignore\n');
  });

  it('checks the whole tree out whenever it cannot be sure what BuildKit sends', () => {
    const whole = (files: typeof root, f: TreeFacts) => sparsePlan(files, f).patterns;
    expect(whole(root, facts(null))).toBeNull();
    expect(whole(root, facts('# nothing\n'))).toBeNull();
    expect(whole(root, facts('*\n!src\n'))).toBeNull(); // exceptions
    expect(whole(root, facts('[ab].txt\n'))).toBeNull(); // character classes
    expect(whole(root, facts('a\\*b\n'))).toBeNull(); // escapes
    expect(whole(root, facts('foo**\n'))).toBeNull(); // ** inside a name
    expect(whole(root, facts('my file\n'))).toBeNull();
    expect(whole(root, facts('.\n'))).toBeNull();
    expect(whole({ contextDir: '.', dockerfilePath: 'build/Dockerfile' }, facts('build\n'))).toBeNull(); // the Dockerfile's folder is excluded
    expect(whole({ contextDir: '.', dockerfilePath: 'build/Dockerfile' }, facts('*/\n'))).toBeNull();
    expect(whole(root, { ...facts('docs\n'), contextIsDirectory: false })).toBeNull(); // a symlink: BuildKit follows it
    expect(whole(root, { ...facts('docs\n'), dockerfileIsFile: false })).toBeNull();
    expect(whole({ contextDir: 'we ird', dockerfilePath: 'Dockerfile' }, facts('docs\n'))).toBeNull();
  });
});
