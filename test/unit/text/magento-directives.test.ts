import { describe, expect, it } from 'vitest';
import { stripMagentoDirectives } from '../../../src/text/magento-directives.js';

describe('stripMagentoDirectives', () => {
  it('removes a widget directive with namespaced type and several attributes', () => {
    const html = '<p>Bestsellers</p>{{widget type="Magento\\CatalogWidget\\Block\\Product\\ProductsList" products_count="8" template="product/widget/content/grid.phtml"}}<p>End</p>';
    expect(stripMagentoDirectives(html)).toBe('<p>Bestsellers</p><p>End</p>');
  });

  it('removes a store url directive even inside a double-quoted attribute', () => {
    expect(stripMagentoDirectives('<a href="{{store url="customer/account"}}">Your account</a>')).toBe('<a href="">Your account</a>');
  });

  it('removes media, block, config and var directives', () => {
    const html = '<img src="{{media url=wysiwyg/banner.jpg}}">{{block id="footer-links"}}{{config path="general/store_information/phone"}} {{var order.increment_id}}';
    expect(stripMagentoDirectives(html)).toBe('<img src=""> ');
  });

  it('keeps the string of a trans directive, in double or single quotes, with escapes', () => {
    expect(stripMagentoDirectives('{{trans "Free shipping over %amount" amount="50"}}')).toBe('Free shipping over %amount');
    expect(stripMagentoDirectives("{{trans 'Don\\'t miss our sale'}}")).toBe("Don't miss our sale");
  });

  it('keeps the content of depend and if blocks but drops their tags', () => {
    expect(stripMagentoDirectives('{{depend phone}}Call us{{/depend}} {{if gift}}Gift wrap{{else}}No wrap{{/if}}')).toBe('Call us Gift wrapNo wrap');
  });

  it('leaves text with stray braces alone', () => {
    expect(stripMagentoDirectives('Use code {SAVE10} or {{ not closed')).toBe('Use code {SAVE10} or {{ not closed');
  });
});
