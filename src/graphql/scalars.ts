// The IP/CIDR scalar (graphql-scalars has none).
import { normaliseCidr } from '../auth/ip.js';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

function parseCidr(value: unknown): string {
  const cidr = typeof value === 'string' && value.length <= 64 ? normaliseCidr(value.trim()) : null;
  if (!cidr) throw new GraphQLError(`Expected an IP address or CIDR block, got ${JSON.stringify(value)?.slice(0, 70)}`, { extensions: { code: 'BAD_USER_INPUT' } });
  return cidr;
}

export const IPCIDRScalar = new GraphQLScalarType<string, string>({
  name: 'IPCIDR',
  description: 'An IPv4 or IPv6 CIDR block such as 10.0.0.0/8; a bare address means a single host.',
  serialize: (value) => String(value),
  parseValue: parseCidr,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new GraphQLError('IPCIDR must be a string', { extensions: { code: 'BAD_USER_INPUT' } });
    return parseCidr(ast.value);
  },
});
