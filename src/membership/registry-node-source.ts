/**
 * The registry as a `NodeSource`, either hosted in this process (`startRegistry`: its table is read
 * directly) or remote (`RegistryClient`: one `query()` per poll). Decision: the adapters take only the
 * one method they use (`Pick<...>`), so tests and other embedders can pass any object with it, while a
 * change of the registry's API still fails to compile here rather than at run time.
 */
import type { RegistryClient } from '../registry/registry-client.js';
import type { RegistryServer } from '../registry/registry-server.js';
import type { NodeSource } from './node-source.js';

export function hostedRegistrySource(registry: Pick<RegistryServer, 'nodes' | 'deregistered'>): NodeSource {
  return { list: async () => ({ nodes: registry.nodes(), deregistered: registry.deregistered() }) };
}

export function remoteRegistrySource(client: Pick<RegistryClient, 'listing'>): NodeSource {
  return { list: () => client.listing() };
}
