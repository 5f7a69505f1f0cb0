/** A problem the caller can act on. `status` follows HTTP so every transport can map it the same way. */
export interface FieldProblem {
  field: string;
  message: string;
}

export interface KilnErrorBody {
  status: number;
  code: string;
  message: string;
  fields?: FieldProblem[];
}

export class KilnError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldProblem[],
  ) {
    super(message);
    this.name = code;
  }

  toBody(): KilnErrorBody {
    return { status: this.status, code: this.code, message: this.message, ...(this.fields ? { fields: this.fields } : {}) };
  }

  static isBody(value: unknown): value is KilnErrorBody {
    return (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as KilnErrorBody).status === 'number' &&
      typeof (value as KilnErrorBody).code === 'string' &&
      typeof (value as KilnErrorBody).message === 'string'
    );
  }
}

export class ValidationError extends KilnError {
  constructor(fields: FieldProblem[], message = describeFields(fields)) {
    super(400, 'ValidationFailed', message, fields);
  }
}

export class NotFoundError extends KilnError {
  constructor(what: string, id: string) {
    super(404, 'NotFound', `${what} ${id} does not exist`);
  }
}

export class ConflictError extends KilnError {
  constructor(message: string) {
    super(409, 'Conflict', message);
  }
}

export class UnprocessableError extends KilnError {
  constructor(code: string, message: string) {
    super(422, code, message);
  }
}

function describeFields(fields: FieldProblem[]): string {
  return 'Invalid input: ' + fields.map((f) => `${f.field}: ${f.message}`).join('; ');
}
