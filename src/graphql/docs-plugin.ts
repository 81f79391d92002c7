// A small Pothos plugin for descriptions derived from the schema itself.
// 1. A field with typed errors (the `errors` or `itemErrors` option of
// @pothos/plugin-errors, as every mutation's resultUnion) gets the list of those errors
// appended to its description, each with what it means (the first sentence of the error
// type's own description). Derived from the union's members, so the list stays true when a
// union changes. A field without a description of its own is left without one: the
// descriptions test names it.
// 2. The `totalCount` field the prisma plugin adds to its connections (it takes no
// description) gets the one every connection's totalCount has.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';

interface ErrorsOption {
  types?: readonly unknown[];
}

export const TOTAL_COUNT_DESCRIPTION = 'How many items the whole list has (all pages, with the filter applied).';

export class DocsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    if (!fieldConfig.description && fieldConfig.extensions?.pothosPrismaTotalCount)
      return { ...fieldConfig, description: TOTAL_COUNT_DESCRIPTION };
    if (!fieldConfig.description) return fieldConfig;
    const options = fieldConfig.pothosOptions as { errors?: ErrorsOption; itemErrors?: ErrorsOption };
    const parts = [fieldConfig.description.trim()];
    if (options.errors?.types?.length) parts.push(`Errors: ${this.list(options.errors.types)}.`);
    if (options.itemErrors?.types?.length) parts.push(`Errors of an item: ${this.list(options.itemErrors.types)}.`);
    return parts.length > 1 ? { ...fieldConfig, description: parts.join('\n\n') } : fieldConfig;
  }

  /** `NotFoundError (an id … names nothing the caller may see), …` */
  private list(types: readonly unknown[]): string {
    return types
      .map((type) => {
        const config = this.buildCache.getTypeConfig(type as never);
        const meaning = firstSentence(config.description);
        return meaning ? `${config.name} (${meaning})` : config.name;
      })
      .join(', ');
  }
}

/** The first sentence, lower-cased at its start, without its full stop. */
function firstSentence(text: string | undefined | null): string | null {
  // A sentence ends at a full stop followed by a capital (not at "e.g. it").
  const sentence = text
    ?.split(/(?<=\.)\s+(?=[A-Z`])/)[0]
    ?.replace(/\.$/, '')
    .trim();
  return sentence ? sentence[0]!.toLowerCase() + sentence.slice(1) : null;
}

SchemaBuilder.registerPlugin('docs', DocsPlugin);

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      docs: DocsPlugin<Types>;
    }
  }
}

export default 'docs' as const;
