export { lambdaContext } from '../../bin/local/lambda-context.ts';
