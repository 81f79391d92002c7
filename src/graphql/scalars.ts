// Scalars of our own: IP/CIDR (graphql-scalars has none) and DateTime narrowed to the
// dates the stores take.
import { normaliseCidr } from '../auth/ip.js';
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { DATE_RANGE, storableDate } from '../validation.js';

function parseCidr(value: unknown): string {
  const cidr = typeof value === 'string' && value.length <= 64 ? normaliseCidr(value.trim()) : null;
  if (!cidr)
    throw new GraphQLError(`Expected an IP address or CIDR block, got ${JSON.stringify(value)?.slice(0, 70)}`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  return cidr;
}

export const IPCIDRScalar = new GraphQLScalarType<string, string>({
  name: 'IPCIDR',
  description: 'An IPv4 or IPv6 CIDR block such as 10.0.0.0/8; a bare address means a single host.',
  serialize: (value) => String(value),
  parseValue: parseCidr,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING)
      throw new GraphQLError('IPCIDR must be a string', { extensions: { code: 'BAD_USER_INPUT' } });
    return parseCidr(ast.value);
  },
});

// graphql-scalars' DateTime takes any RFC 3339 instant, year 0000 included, which then
// failed in the database at bind time (a 500). Out of range is a bad input, like a malformed
// date: refused while the variables and literals are coerced, before anything runs.
function storable(value: Date, node?: ValueNode): Date {
  if (!storableDate(value))
    throw new GraphQLError(`DateTime ${DATE_RANGE}, got ${value.toISOString()}`, {
      nodes: node,
      extensions: { code: 'BAD_USER_INPUT' },
    });
  return value;
}

const dateTime = DateTimeResolver.toConfig();
export const DateTimeScalar = new GraphQLScalarType<Date, Date>({
  ...dateTime,
  description: `${dateTime.description} Between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.`,
  parseValue: (value) => storable(dateTime.parseValue!(value) as Date),
  // The node gives the error a location: graphql-js reports a literal's GraphQLError as is.
  parseLiteral: (ast, variables) => storable(dateTime.parseLiteral!(ast, variables) as Date, ast),
});
