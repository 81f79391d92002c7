// Courses, enrollments and orders: the dependents that merge, reallocate and delete act on.
import type { Course, Enrollment, Order } from '@prisma/client';
import { builder } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { idArg, optionalIdArg } from '../../graphql/mutations.js';
import { loadEntity } from '../../graphql/entities.js';
import { nativeId } from '../../graphql/ids.js';
import { createCourse, enrollUser, recordOrder } from './service.js';
import { courseVisibility, enrollmentVisibility, orderVisibility, within } from '../../auth/visibility.js';

const CourseRef = builder.prismaNode('Course', {
  id: { field: 'id' },
  findUnique: nodeLookup('Course', (id, ctx) => within({ id }, courseVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  fields: (t) => ({
    title: t.exposeString('title'),
    owner: t.relation('owner', { nullable: true, description: 'Null once an IGNORE delete left the course ownerless.' }),
    enrollmentCount: t.relationCount('enrollments'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const EnrollmentRef = builder.prismaNode('Enrollment', {
  id: { field: 'id' },
  findUnique: nodeLookup('Enrollment', (id, ctx) => within({ id }, enrollmentVisibility(ctx.principal)) as { id: string; userId_courseId: never }),
  nullable: true,
  fields: (t) => ({
    user: t.relation('user'),
    course: t.relation('course'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const OrderRef = builder.prismaNode('Order', {
  id: { field: 'id' },
  findUnique: nodeLookup('Order', (id, ctx) => within({ id }, orderVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  fields: (t) => ({
    user: t.relation('user'),
    course: t.relation('course', { nullable: true }),
    amountCents: t.exposeInt('amountCents'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

// Federation: other subgraphs extend courses, enrollments and orders by their global id; all
// representations of one type load in one statement, narrowed to what the caller may see.
builder.asEntity(CourseRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx, info) =>
    loadEntity(ctx, info, {
      typeName: 'Course',
      keyName: 'id',
      key: nativeId('Course', String(ref.id)),
      find: (prisma, ids, query) => prisma.course.findMany({ ...query, where: within({ id: { in: ids } }, courseVisibility(ctx.principal)) }),
      keyOf: (c) => c.id,
    }),
});

builder.asEntity(EnrollmentRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx, info) =>
    loadEntity(ctx, info, {
      typeName: 'Enrollment',
      keyName: 'id',
      key: nativeId('Enrollment', String(ref.id)),
      find: (prisma, ids, query) => prisma.enrollment.findMany({ ...query, where: within({ id: { in: ids } }, enrollmentVisibility(ctx.principal)) }),
      keyOf: (e) => e.id,
    }),
});

builder.asEntity(OrderRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx, info) =>
    loadEntity(ctx, info, {
      typeName: 'Order',
      keyName: 'id',
      key: nativeId('Order', String(ref.id)),
      find: (prisma, ids, query) => prisma.order.findMany({ ...query, where: within({ id: { in: ids } }, orderVisibility(ctx.principal)) }),
      keyOf: (o) => o.id,
    }),
});

// ---------------------------------------------------------------------------- mutations

builder.mutationFields((t) => ({
  createCourse: t.field({
    type: builder.objectRef<{ course: Course }>('CreateCourseSuccess').implement({
      fields: (f) => ({ course: f.field({ type: CourseRef, resolve: (p) => p.course }) }),
    }),
    errors: resultUnion('CreateCourseResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('CreateCourseInput', { fields: (f) => ({ ownerId: f.id({ required: true }), title: f.string({ required: true }) }) }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({ course: await createCourse(ctx, { ownerId: idArg('User', input.ownerId), title: input.title }) }),
  }),
  enrollUser: t.field({
    type: builder.objectRef<{ enrollment: Enrollment }>('EnrollUserSuccess').implement({
      fields: (f) => ({ enrollment: f.field({ type: EnrollmentRef, resolve: (p) => p.enrollment }) }),
    }),
    errors: resultUnion('EnrollUserResult', NotFoundError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('EnrollUserInput', { fields: (f) => ({ userId: f.id({ required: true }), courseId: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      enrollment: await enrollUser(ctx, idArg('User', input.userId), idArg('Course', input.courseId)),
    }),
  }),
  recordOrder: t.field({
    type: builder.objectRef<{ order: Order }>('RecordOrderSuccess').implement({
      fields: (f) => ({ order: f.field({ type: OrderRef, resolve: (p) => p.order }) }),
    }),
    errors: resultUnion('RecordOrderResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('RecordOrderInput', {
          fields: (f) => ({ userId: f.id({ required: true }), courseId: f.id(), amountCents: f.int({ required: true }) }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      order: await recordOrder(ctx, { userId: idArg('User', input.userId), courseId: optionalIdArg('Course', input.courseId), amountCents: input.amountCents }),
    }),
  }),
}));
