import { builder } from './builder.ts';
import './types/script-type.ts';
import './types/service.ts';
import './types/service-version.ts';
import './types/event-script.ts';
import './types/access.ts';
import './types/invocation.ts';
import './types/check-script.ts';
import './types/execution.ts';
import './types/execution-subscriptions.ts';
import './service-fields/schema-field.ts';

export const schema = builder.toSchema({ sortSchema: true });
