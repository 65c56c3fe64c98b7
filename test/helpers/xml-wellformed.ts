/**
 * A small XML well-formedness check for the SVGs the CLI writes (no XML parser is a dependency):
 * one root element, every start tag closed in order, attributes quoted and unique, only the five
 * predefined entities or numeric references, no stray `<` or `&` in text. Returns the problems
 * found (empty: well-formed) and the element names seen.
 */
export function checkXml(xml: string): { problems: string[]; elements: string[] } {
  const problems: string[] = [];
  const elements: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const token = /<!--[\s\S]*?-->|<\/([A-Za-z][\w:.-]*)\s*>|<([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)|(<)/g;
  for (const m of body.matchAll(token)) {
    const [, close, open, attrs, selfClose, text, stray] = m;
    if (stray !== undefined) {
      problems.push(`stray < at ${m.index}`);
      continue;
    }
    if (text !== undefined) {
      if (stack.length === 0 && text.trim() !== '') problems.push('text outside the root element');
      for (const e of text.matchAll(/&([^;\s]*);?/g)) {
        if (!/^(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+)$/.test(e[1] ?? '') || !e[0].endsWith(';')) problems.push(`bad entity ${e[0]}`);
      }
      continue;
    }
    if (close !== undefined) {
      const top = stack.pop();
      if (top !== close) problems.push(`</${close}> closes <${top ?? 'nothing'}>`);
      continue;
    }
    if (open !== undefined) {
      elements.push(open);
      if (stack.length === 0) roots++;
      const names = [...(attrs ?? '').matchAll(/([\w:.-]+)\s*=/g)].map((a) => a[1]);
      if (new Set(names).size !== names.length) problems.push(`duplicate attribute in <${open}>`);
      if (selfClose !== '/') stack.push(open);
    }
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return { problems, elements };
}
