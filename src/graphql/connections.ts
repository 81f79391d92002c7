// Shared connection arguments and ordering inputs.
import { builder } from './builder.js';

export const OrderDirection = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

export const DateRangeInput = builder.inputType('DateRange', {
  description: 'An inclusive time range; either end may be left open.',
  fields: (t) => ({
    from: t.field({ type: 'DateTime' }),
    to: t.field({ type: 'DateTime' }),
  }),
});
