// A second, tiny subgraph for the federation tests and `npm run compose`: reviews written
// about users of this gateway. It extends our `User` entity (by its global id) with
// `reviews`, and its `Review.author` makes the gateway fetch User fields from us.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { buildSubgraphSchema } from '@apollo/subgraph';
import {
  composeServices,
  compositionHasErrors,
  composeSchemaContract,
  type CompositionResult,
} from '@theguild/federation-composition';

export const REVIEWS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

  type User @key(fields: "id") {
    id: ID!
    reviews: [Review!]!
  }

  type Review {
    id: ID!
    body: String!
    author: User!
  }

  type Query {
    latestReviews: [Review!]!
  }
`;

export interface Review {
  id: string;
  body: string;
  authorId: string;
}

export interface ReviewsSubgraph {
  url: string;
  reviews: Review[];
  close(): Promise<void>;
}

/** Serves the reviews subgraph with graphql-yoga on a loopback port. */
export async function startReviews(reviews: Review[] = []): Promise<ReviewsSubgraph> {
  const schema = buildSubgraphSchema({
    typeDefs: parse(REVIEWS_SDL),
    resolvers: {
      Query: { latestReviews: () => reviews },
      Review: { author: (review: Review) => ({ __typename: 'User', id: review.authorId }) },
      User: {
        __resolveReference: (ref: { id: string }) => ref,
        reviews: (user: { id: string }) => reviews.filter((r) => r.authorId === user.id),
      },
    } as never,
  });
  const yoga = createYoga({ schema, logging: false });
  const server = http.createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    reviews,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Our subgraph SDL and the reviews subgraph, composed into a supergraph. */
export function composeWithReviews(accounts: { sdl: string; url: string }, reviewsUrl: string): CompositionResult {
  return composeServices(services(accounts, reviewsUrl));
}

/** The same supergraph as a contract that leaves out everything tagged `pii`. */
export function composeWithoutPii(accounts: { sdl: string; url: string }, reviewsUrl: string): CompositionResult {
  return composeSchemaContract(services(accounts, reviewsUrl), { include: new Set(), exclude: new Set(['pii']) });
}

const services = (accounts: { sdl: string; url: string }, reviewsUrl: string) => [
  { name: 'accounts', typeDefs: parse(accounts.sdl), url: accounts.url },
  { name: 'reviews', typeDefs: parse(REVIEWS_SDL), url: reviewsUrl },
];

/** The supergraph SDL, or an error listing every composition error. */
export function supergraphOf(result: CompositionResult): string {
  if (compositionHasErrors(result))
    throw new Error(`composition failed:\n${result.errors.map((e) => e.message).join('\n')}`);
  return result.supergraphSdl;
}
