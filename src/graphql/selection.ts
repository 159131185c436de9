import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/** Whether the operation selects the field path (`content`, or `edges`, `node`, `content`) under this field, through fragments too. */
export function selects(info: GraphQLResolveInfo, ...path: [string, ...string[]]): boolean {
  const visit = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): boolean =>
    !!set?.selections.some((selection) => {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== path[depth]) return false;
        return depth === path.length - 1 || visit(selection.selectionSet, depth + 1, seen);
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) return visit(selection.selectionSet, depth, seen);
      // Validation rejects fragment cycles, but this may run on documents it has not seen.
      const key = `${depth}:${selection.name.value}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return visit(info.fragments[selection.name.value]?.selectionSet, depth, seen);
    });
  return info.fieldNodes.some((node) => visit(node.selectionSet, 0, new Set()));
}
