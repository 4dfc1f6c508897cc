import { describe, expect, it } from 'vitest';
import { htmlToReadableText } from '../../../src/text/html-to-text.js';

describe('htmlToReadableText', () => {
  describe('when the HTML has headings', () => {
    it('writes each heading as its own markdown-like line, one # per level, not uppercased', () => {
      const html = '<h1>Returns &amp; Refunds</h1><p>Intro.</p><h2>Return window</h2><p>30 days.</p><h3>Sale items</h3><p>14 days.</p>';
      expect(htmlToReadableText(html)).toBe('# Returns & Refunds\n\nIntro.\n\n## Return window\n\n30 days.\n\n### Sale items\n\n14 days.');
    });

    it('puts a heading broken by <br> on one line', () => {
      expect(htmlToReadableText('<h2>Shipping<br>times</h2>')).toBe('## Shipping times');
    });
  });

  describe('when the HTML has lists', () => {
    it('writes unordered items as "- item" lines and ordered items numbered', () => {
      const html = '<p>What we need:</p><ul><li>Order number</li><li>Reason</li></ul><ol><li>Pack the item</li><li>Print the label</li></ol>';
      expect(htmlToReadableText(html)).toBe('What we need:\n\n- Order number\n- Reason\n\n1. Pack the item\n2. Print the label');
    });
  });

  describe('when the HTML has tables', () => {
    it('writes a table with a header row as one "Header: value" line per row', () => {
      const html = '<table><thead><tr><th>Size</th><th>Chest (cm)</th><th>Waist (cm)</th></tr></thead><tbody><tr><td>S</td><td>86–91</td><td>71–76</td></tr><tr><td>M</td><td>92–97</td><td>77–82</td></tr></tbody></table>';
      expect(htmlToReadableText(html)).toBe('Size: S; Chest (cm): 86–91; Waist (cm): 71–76\nSize: M; Chest (cm): 92–97; Waist (cm): 77–82');
    });

    it('writes a key/value table as "Key: value" lines', () => {
      const html = '<table><tr><th>Weight</th><td>1.2 kg</td></tr><tr><th>Material</th><td>Full-grain leather</td></tr></table>';
      expect(htmlToReadableText(html)).toBe('Weight: 1.2 kg\nMaterial: Full-grain leather');
    });

    it('joins the cells of a table without headers with " | "', () => {
      const html = '<table><tr><td>Mon–Fri</td><td>9:00–18:00</td></tr><tr><td>Sat</td><td>10:00–14:00</td></tr></table>';
      expect(htmlToReadableText(html)).toBe('Mon–Fri | 9:00–18:00\nSat | 10:00–14:00');
    });
  });

  it('writes definition lists and other block elements as their own lines', () => {
    expect(htmlToReadableText('<dl><dt>Delivery</dt><dd>2–4 working days</dd><dt>Returns</dt><dd>30 days</dd></dl>')).toBe('Delivery\n2–4 working days\nReturns\n30 days');
    expect(htmlToReadableText('<section>Free delivery</section><section>Free returns</section>')).toBe('Free delivery\n\nFree returns');
  });

  it('decodes entities', () => {
    expect(htmlToReadableText('<p>Fish &amp; chips &lt;3 &euro;5 &#8211; caf&eacute;</p>')).toBe('Fish & chips <3 €5 – café');
  });

  it('keeps link text and drops the address', () => {
    expect(htmlToReadableText('<p>Read our <a href="https://shop.example/faq">FAQ</a> first.</p>')).toBe('Read our FAQ first.');
  });

  it('drops images by default and keeps their alt text when asked', () => {
    const html = '<p>Our store <img src="/media/store.jpg" alt="Shop front on Main Street"> opens daily.</p>';
    expect(htmlToReadableText(html)).toBe('Our store opens daily.');
    expect(htmlToReadableText(html, { keepImageAlt: true })).toBe('Our store [Shop front on Main Street] opens daily.');
  });

  it('drops scripts, styles and form controls', () => {
    const html = '<style>.x { color: red }</style><script>window.dataLayer = [];</script><p>Newsletter</p><form><input name="email"><button>Subscribe</button></form>';
    expect(htmlToReadableText(html)).toBe('Newsletter');
  });

  it('removes Magento directives, keeping trans strings', () => {
    const html = '<p>{{trans "Questions about your order?"}} <a href="{{store url="contact"}}">Contact us</a>.</p>{{widget type="Magento\\Cms\\Block\\Widget\\Block" block_id="7"}}<img src="{{media url="wysiwyg/x.png"}}">{{block id="promo"}}<p>{{config path="general/store_information/name"}}{{var store.name}}</p>';
    expect(htmlToReadableText(html)).toBe('Questions about your order? Contact us.');
  });

  it('normalises whitespace and never wraps long paragraphs', () => {
    const long = 'word '.repeat(60).trim();
    expect(htmlToReadableText(`<div>\n\n  <p>  Spaced&nbsp;&nbsp; out  </p>\n\n\n<p>${long}</p></div>`)).toBe(`Spaced out\n\n${long}`);
  });

  it('gives the empty string for null, blank or tag-only input', () => {
    expect(htmlToReadableText(null)).toBe('');
    expect(htmlToReadableText('   ')).toBe('');
    expect(htmlToReadableText('<div><br></div>{{widget type="x"}}')).toBe('');
  });
});
