import type { ImagePart } from '@/gateway/dialects/canonical';
import { invalid, present } from '@/gateway/dialects/shared/validate';
import type { Obj } from '@/gateway/dialects/shared/values';

/** `data:<mime>;base64,<data>`: group 1 is the media type, group 2 the data. Not global: `exec` is stateless. */
export const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/** A canonical image as a URL: its own, or a `data:` URL for base64 data. */
export const imageUrl = (p: ImagePart): string =>
  p.source.kind === 'url' ? p.source.url : `data:${p.source.mediaType};base64,${p.source.data}`;

/**
 * An OpenAI-style image given by URL (Chat `image_url.url`, Responses `image_url`): a base64
 * `data:` URL becomes base64 data, an http(s) URL stays a URL, anything else is a 400 on `urlParam`.
 * `detail` (auto, low, high) is read from `raw`, a 400 on `<param>.detail`.
 */
export function urlImagePart(url: string, urlParam: string, raw: Obj, param: string): ImagePart {
  const part: ImagePart = { type: 'image', source: { kind: 'url', url } };
  const data = DATA_URL.exec(url);
  if (data) {
    part.source = { kind: 'base64', mediaType: data[1], data: data[2] };
  } else if (!/^https?:\/\//i.test(url)) {
    throw invalid(`${urlParam} must be an https URL or a data:<mime>;base64,<data> URL`, urlParam);
  }
  const detail = raw.detail;
  if (present(detail)) {
    if (detail !== 'auto' && detail !== 'low' && detail !== 'high') {
      throw invalid(`${param}.detail must be one of auto, low, high`, `${param}.detail`);
    }
    part.detail = detail;
  }
  return part;
}
