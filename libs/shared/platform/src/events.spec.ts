import { refusedByDatabase } from './events';

describe('refusedByDatabase: which handler errors no redelivery can cure', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('names PostgreSQL data exceptions and integrity violations, with the SQLSTATE and message', () => {
    expect(refusedByDatabase(pgError('22008', 'date/time field value out of range: "0000-01-01T00:00:00Z"'))).toBe(
      `the database refuses the message's data (SQLSTATE 22008): date/time field value out of range: "0000-01-01T00:00:00Z"`,
    );
    expect(refusedByDatabase(pgError('22P05', 'unsupported Unicode escape sequence'))).toMatch(/SQLSTATE 22P05/);
    expect(refusedByDatabase(pgError('23503', 'insert or update violates foreign key constraint'))).toMatch(/SQLSTATE 23503/);
  });

  it('leaves everything that may pass to redelivery: the database away or busy, the network, any other error', () => {
    for (const code of ['57P01', '53300', '08006', '40001', 'ECONNREFUSED', 'ETIMEDOUT']) expect(refusedByDatabase(pgError(code, 'transient'))).toBeNull();
    expect(refusedByDatabase(new Error('no code'))).toBeNull();
    expect(refusedByDatabase(null)).toBeNull();
    expect(refusedByDatabase({ code: 22008 })).toBeNull();
  });
});
