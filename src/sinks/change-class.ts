/**
 * The change classes of the shop pushes and how fast each must reach a shop (the WooCommerce
 * sync design's SLA table): a price in 2 minutes, stock in 5, product details in 15, categories in
 * 30. Latency is measured from the change's `occurred_at` at the source to the shop's answer.
 */
export const CHANGE_CLASSES = ['price', 'stock', 'product', 'category', 'content'] as const;
export type ChangeClass = (typeof CHANGE_CLASSES)[number];

export const SLA_SECONDS: Readonly<Record<ChangeClass, number>> = {
  price: 120,
  stock: 300,
  product: 900,
  category: 1800,
  content: 1800,
};

/** The class of a record by its logical topic (`changes.product_price` → price). */
export function changeClassOf(topic: string): ChangeClass {
  switch (topic) {
    case 'changes.product_price':
      return 'price';
    case 'changes.product_stock':
      return 'stock';
    case 'changes.product':
      return 'product';
    case 'changes.category':
      return 'category';
    default:
      return 'content';
  }
}
