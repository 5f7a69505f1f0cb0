export const SECRET_BOX = Symbol('SECRET_BOX');
export const TEMPORAL_CLIENT = Symbol('TEMPORAL_CLIENT');
