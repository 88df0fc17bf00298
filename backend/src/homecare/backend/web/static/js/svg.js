// The one SVG helper of every page: an SVG element with its attributes and children, as `el` makes HTML ones.
export const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element; attributes that are undefined or null are left out. */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(name, value);
  node.append(...children);
  return node;
}
