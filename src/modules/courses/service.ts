// Courses, enrollments and orders: created by admins for users they administer.
import type { Course, Enrollment, Order, User } from '@prisma/client';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.js';
import { courseVisibility, within } from '../../auth/visibility.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import { uniqueViolation } from '../../store/errors.js';
import { cents, parse, text } from '../../validation.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { assertNotMerged, lockManagedUsers } from '../users/service.js';

const courseSchema = z.object({ ownerId: z.string(), title: text.min(1, 'must not be empty') });

/**
 * A visible course, locked FOR KEY SHARE until the write that points at it commits: a
 * concurrent deletion of the course (its owner deleted with DELETE) either waits for that
 * write, and its cascade takes the new row along, or went first, and the course is not found.
 */
async function findCourse(tx: Tx, ctx: RequestContext, courseId: string): Promise<Course> {
  await tx.$queryRaw`SELECT id FROM "Course" WHERE id = ${courseId}::uuid FOR KEY SHARE`;
  const course = await tx.course.findFirst({ where: within({ id: courseId }, courseVisibility(ctx.principal)) });
  if (!course) throw new NotFoundError('Course', courseId);
  return course;
}

/**
 * A merged user has handed its courses, enrollments and orders to its target: new ones go
 * there too, or they would strand on a user nobody acts as (also when a merge wins a race).
 */
const refuseMerged = (tx: Tx, ctx: RequestContext, user: User, field: string) =>
  assertNotMerged(tx, ctx, user, 'use the target instead', field);

export async function createCourse(ctx: RequestContext, raw: z.input<typeof courseSchema>): Promise<Course> {
  const principal = requireUser(ctx);
  const input = parse(courseSchema, raw);
  return audited(ctx, async (tx, audit) => {
    const [owner] = await lockManagedUsers(tx, ctx, [input.ownerId]);
    await refuseMerged(tx, ctx, owner!, 'ownerId');
    const course = await tx.course.create({
      data: { partnerId: principal.partnerId, ownerId: input.ownerId, title: input.title },
    });
    audit({ action: 'course.create', subjectType: 'Course', subjectId: course.id, data: { ownerId: input.ownerId } });
    return course;
  });
}

export async function enrollUser(ctx: RequestContext, userId: string, courseId: string): Promise<Enrollment> {
  const principal = requireUser(ctx);
  try {
    return await audited(ctx, async (tx, audit) => {
      const [user] = await lockManagedUsers(tx, ctx, [userId]);
      await refuseMerged(tx, ctx, user!, 'userId');
      await findCourse(tx, ctx, courseId);
      const enrollment = await tx.enrollment.create({ data: { partnerId: principal.partnerId, userId, courseId } });
      audit({
        action: 'enrollment.create',
        subjectType: 'Enrollment',
        subjectId: enrollment.id,
        data: { userId, courseId },
      });
      return enrollment;
    });
  } catch (error) {
    if (uniqueViolation(error)) throw new ConflictError('the user is already enrolled in this course', 'courseId');
    throw error;
  }
}

const orderSchema = z.object({ userId: z.string(), courseId: z.string().nullish(), amountCents: cents });

export async function recordOrder(ctx: RequestContext, raw: z.input<typeof orderSchema>): Promise<Order> {
  const principal = requireUser(ctx);
  const input = parse(orderSchema, raw);
  return audited(ctx, async (tx, audit) => {
    const [user] = await lockManagedUsers(tx, ctx, [input.userId]);
    await refuseMerged(tx, ctx, user!, 'userId');
    if (input.courseId) await findCourse(tx, ctx, input.courseId);
    const order = await tx.order.create({
      data: {
        partnerId: principal.partnerId,
        userId: input.userId,
        courseId: input.courseId ?? null,
        amountCents: input.amountCents,
      },
    });
    audit({
      action: 'order.create',
      subjectType: 'Order',
      subjectId: order.id,
      data: { userId: input.userId, amountCents: input.amountCents },
    });
    return order;
  });
}
