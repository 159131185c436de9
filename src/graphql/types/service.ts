import { builder } from '../builder.ts';

export const ServiceRef = builder.prismaObject('Service', {
  description: 'A scripted service: every HTTP verb on /api/v2/{name}/... runs its script.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    name: t.exposeString('name'),
    label: t.exposeString('label'),
    description: t.exposeString('description'),
    type: t.exposeString('type', { description: 'The script type (see scriptTypes).' }),
    isActive: t.exposeBoolean('isActive'),
    content: t.exposeString('content', { description: 'The script.' }),
    config: t.field({ type: 'JSON', description: 'Settings other than the script, as given.', resolve: (s) => s.config }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const serviceFields = {
  label: 'At most 80 characters; defaults to the name.',
  description: 'At most 255 characters.',
  content: 'The script.',
};

const CreateServiceInput = builder.inputType('CreateServiceInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Letters, digits, "_" and "-"; at most 40; stored lower-case.' }),
    label: t.string({ description: serviceFields.label }),
    description: t.string({ description: serviceFields.description }),
    type: t.string({ required: true, description: 'A script type name.' }),
    content: t.string({ required: true, description: serviceFields.content }),
    isActive: t.boolean(),
    config: t.field({ type: 'JSON', description: 'Other settings, e.g. timeout_ms, memory_limit_mb.' }),
  }),
});

const UpdateServiceInput = builder.inputType('UpdateServiceInput', {
  fields: (t) => ({
    name: t.string(),
    label: t.string({ description: serviceFields.label }),
    description: t.string({ description: serviceFields.description }),
    type: t.string(),
    content: t.string({ description: serviceFields.content }),
    isActive: t.boolean(),
    config: t.field({ type: 'JSON', description: 'Keys to set; null removes a key; keys not given stay.' }),
  }),
});

builder.queryFields((t) => ({
  services: t.field({
    type: [ServiceRef],
    resolve: async (_root, _args, ctx) => (await ctx.platform.services.list()).services,
  }),
  service: t.field({
    type: ServiceRef,
    nullable: true,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, ctx) => ctx.platform.services.byNameOrNull(name),
  }),
}));

builder.mutationFields((t) => ({
  createService: t.field({
    type: ServiceRef,
    args: { input: t.arg({ type: CreateServiceInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.platform.services.create(input),
  }),
  updateService: t.field({
    type: ServiceRef,
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UpdateServiceInput, required: true }) },
    resolve: async (_root, { name, input }, ctx) => {
      const existing = await ctx.platform.services.byName(name);
      return ctx.platform.services.update(existing, input);
    },
  }),
  deleteService: t.boolean({
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, ctx) => {
      await ctx.platform.services.delete(await ctx.platform.services.byName(name));
      return true;
    },
  }),
}));
