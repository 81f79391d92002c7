// Courses, enrollments and orders: the dependents that merge, reallocate and delete act on.
import type { Course, Enrollment, Order } from '@prisma/client';
import { builder } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { idArg, optionalIdArg } from '../../graphql/mutations.js';
import { referenceById } from '../../graphql/entities.js';
import { createCourse, enrollUser, recordOrder } from './service.js';
import { courseVisibility, enrollmentVisibility, orderVisibility, within } from '../../auth/visibility.js';

const CourseRef = builder.prismaNode('Course', {
  id: { field: 'id' },
  findUnique: nodeLookup('Course', (id, ctx) => within({ id }, courseVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  description: 'A course owned by a user: what reallocateCourses and deleteUser act on.',
  fields: (t) => ({
    title: t.exposeString('title', { description: 'Title, 1 to 255 characters.' }),
    owner: t.relation('owner', {
      nullable: true,
      description: 'Null once an IGNORE delete left the course ownerless.',
    }),
    enrollmentCount: t.relationCount('enrollments', { description: 'How many users are enrolled.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the course was created.' }),
    updatedAt: t.expose('updatedAt', {
      type: 'DateTime',
      description: 'When the course last changed (a new owner included).',
    }),
  }),
});

const EnrollmentRef = builder.prismaNode('Enrollment', {
  id: { field: 'id' },
  findUnique: nodeLookup(
    'Enrollment',
    (id, ctx) => within({ id }, enrollmentVisibility(ctx.principal)) as { id: string; userId_courseId: never },
  ),
  nullable: true,
  description: "A user's enrollment in a course (a catalog dependency: what deleteUserDependencies deletes).",
  fields: (t) => ({
    user: t.relation('user', { description: 'The enrolled user.' }),
    course: t.relation('course', { description: 'The course.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was enrolled.' }),
  }),
});

const OrderRef = builder.prismaNode('Order', {
  id: { field: 'id' },
  findUnique: nodeLookup('Order', (id, ctx) => within({ id }, orderVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  description: "A user's order (a catalog dependency: what deleteUserDependencies deletes).",
  fields: (t) => ({
    user: t.relation('user', { description: 'The user who ordered.' }),
    course: t.relation('course', {
      nullable: true,
      description: 'The course ordered; null for an order of no course.',
    }),
    amountCents: t.exposeInt('amountCents', {
      description: 'The amount in cents (hundredths of the currency unit), 0 to 1,000,000,000.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the order was recorded.' }),
  }),
});

// Federation: other subgraphs extend courses, enrollments and orders by their global id; all
// representations of one type load in one statement, narrowed to what the caller may see.
builder.asEntity(CourseRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: referenceById('Course', (prisma, ids, query, ctx) =>
    prisma.course.findMany({ ...query, where: within({ id: { in: ids } }, courseVisibility(ctx.principal)) }),
  ),
});

builder.asEntity(EnrollmentRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: referenceById('Enrollment', (prisma, ids, query, ctx) =>
    prisma.enrollment.findMany({ ...query, where: within({ id: { in: ids } }, enrollmentVisibility(ctx.principal)) }),
  ),
});

builder.asEntity(OrderRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: referenceById('Order', (prisma, ids, query, ctx) =>
    prisma.order.findMany({ ...query, where: within({ id: { in: ids } }, orderVisibility(ctx.principal)) }),
  ),
});

// ---------------------------------------------------------------------------- mutations

builder.mutationFields((t) => ({
  createCourse: t.field({
    type: builder.objectRef<{ course: Course }>('CreateCourseSuccess').implement({
      description: 'The course created.',
      fields: (f) => ({
        course: f.field({ type: CourseRef, description: 'The course created.', resolve: (p) => p.course }),
      }),
    }),
    errors: resultUnion('CreateCourseResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    description: 'Creates a course owned by a user the caller administers.',
    args: {
      input: t.arg({
        type: builder.inputType('CreateCourseInput', {
          description: 'The new course.',
          fields: (f) => ({
            ownerId: f.id({ required: true, description: 'The owner: global id or uuid of a user.' }),
            title: f.string({ required: true, description: 'Title, 1 to 255 characters.' }),
          }),
        }),
        required: true,
        description: 'The new course.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      course: await createCourse(ctx, { ownerId: idArg('User', input.ownerId), title: input.title }),
    }),
  }),
  enrollUser: t.field({
    type: builder.objectRef<{ enrollment: Enrollment }>('EnrollUserSuccess').implement({
      description: 'The enrollment created.',
      fields: (f) => ({
        enrollment: f.field({
          type: EnrollmentRef,
          description: 'The enrollment created.',
          resolve: (p) => p.enrollment,
        }),
      }),
    }),
    errors: resultUnion('EnrollUserResult', NotFoundError),
    authScopes: { admin: true },
    description:
      'Enrolls a user the caller administers in a course of the partner. ' +
      'A user already enrolled in it, or a merged user, is a ConflictError.',
    args: {
      input: t.arg({
        type: builder.inputType('EnrollUserInput', {
          description: 'Who, in which course.',
          fields: (f) => ({
            userId: f.id({ required: true, description: 'The user: global id or uuid.' }),
            courseId: f.id({ required: true, description: 'The course: global id.' }),
          }),
        }),
        required: true,
        description: 'The user and the course.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      enrollment: await enrollUser(ctx, idArg('User', input.userId), idArg('Course', input.courseId)),
    }),
  }),
  recordOrder: t.field({
    type: builder.objectRef<{ order: Order }>('RecordOrderSuccess').implement({
      description: 'The order recorded.',
      fields: (f) => ({
        order: f.field({ type: OrderRef, description: 'The order recorded.', resolve: (p) => p.order }),
      }),
    }),
    errors: resultUnion('RecordOrderResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    description: 'Records an order of a user the caller administers, for a course of the partner or for none.',
    args: {
      input: t.arg({
        type: builder.inputType('RecordOrderInput', {
          description: 'The order.',
          fields: (f) => ({
            userId: f.id({ required: true, description: 'The user: global id or uuid.' }),
            courseId: f.id({ description: 'The course ordered: global id (left out: an order of no course).' }),
            amountCents: f.int({
              required: true,
              description: 'The amount in cents, a whole number from 0 to 1,000,000,000.',
            }),
          }),
        }),
        required: true,
        description: 'The order.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      order: await recordOrder(ctx, {
        userId: idArg('User', input.userId),
        courseId: optionalIdArg('Course', input.courseId),
        amountCents: input.amountCents,
      }),
    }),
  }),
}));
