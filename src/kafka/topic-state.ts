import kafkajs, { type Admin } from 'kafkajs';

// kafkajs is CommonJS and this export is not visible to Node's ESM named-import detection.
const { ConfigResourceTypes } = kafkajs;

/** The configs of existing topics, by topic and config name. */
export async function describeTopicConfigs(admin: Admin, names: string[]): Promise<Map<string, Map<string, string>>> {
  const result = new Map<string, Map<string, string>>();
  if (names.length === 0) return result;
  const query = { includeSynonyms: false, resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })) };
  // A topic created a moment ago may not be hosted yet ("does not host this topic-partition"):
  // retriable, so give the broker a few seconds.
  let response: Awaited<ReturnType<Admin['describeConfigs']>> | undefined;
  for (let attempt = 0; response === undefined; attempt++) {
    try {
      response = await admin.describeConfigs(query);
    } catch (error) {
      if (!(error as { retriable?: boolean }).retriable || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  for (const resource of response.resources) {
    result.set(resource.resourceName, new Map(resource.configEntries.map((e) => [e.configName, e.configValue])));
  }
  return result;
}

/** The partition count of existing topics. */
export async function partitionCounts(admin: Admin, names: string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const { topics } = await admin.fetchTopicMetadata({ topics: names });
  return new Map(topics.map((t) => [t.name, t.partitions.length]));
}
