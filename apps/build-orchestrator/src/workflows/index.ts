export { buildAndPush, currentStepQuery } from './build-and-push.workflow';
