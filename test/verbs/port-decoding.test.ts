/**
 * Decoding what a port reports: link rate from the active_speed / active_width codes (the figures
 * ibstat prints), GID text, IPv4-mapped GIDs and the GID preference.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatGid, ipv4OfGid, preferredGid } from '../../src/transfer/verbs/gid.js';
import { linkRate } from '../../src/transfer/verbs/link-rate.js';
import type { GidInfo } from '../../src/transfer/verbs/port-info.js';

describe('link rate', () => {
  test('speed x width codes give the rates ibstat prints', () => {
    const cases: [number, number, string][] = [
      [128, 2, '400 Gb/s (4X NDR)'],
      [128, 16, '200 Gb/s (2X NDR)'],
      [128, 1, '100 Gb/s (1X NDR)'],
      [64, 2, '200 Gb/s (4X HDR)'],
      [32, 2, '100 Gb/s (4X EDR)'],
      [16, 2, '56 Gb/s (4X FDR)'],
      [8, 2, '40 Gb/s (4X FDR10)'],
      [4, 8, '120 Gb/s (12X QDR)'],
      [4, 4, '80 Gb/s (8X QDR)'],
      [2, 2, '20 Gb/s (4X DDR)'],
      [1, 1, '2.5 Gb/s (1X SDR)'],
    ];
    for (const [speed, width, text] of cases) assert.equal(linkRate(speed, width)?.text, text, `speed ${speed} width ${width}`);
    assert.equal(linkRate(128, 2)?.gbps, 400);
  });

  test('codes outside the known encodings give no rate', () => {
    for (const [speed, width] of [[0, 2], [3, 2], [256, 2], [128, 0], [128, 3]]) assert.equal(linkRate(speed, width), null, `speed ${speed} width ${width}`);
  });
});

describe('GIDs', () => {
  const raw = (...b: number[]) => Uint8Array.from(b);

  test('text form is eight groups of four hex digits', () => {
    assert.equal(formatGid(raw(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x5a, 0xa2, 0xe1, 0xff, 0xfe, 0xa5, 0x39, 0x9e)), 'fe80:0000:0000:0000:5aa2:e1ff:fea5:399e');
  });

  test('IPv4-mapped GIDs give their address, others none', () => {
    assert.equal(ipv4OfGid(raw(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 77, 1)), '192.168.77.1');
    assert.equal(ipv4OfGid(raw(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 192, 168, 77, 1)), null);
    assert.equal(ipv4OfGid(raw(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 77, 1)), null);
  });

  test('preference: RoCE v2 over v1, then IPv4-mapped, then the lowest index', () => {
    const g = (index: number, type: GidInfo['type'], ipv4: string | null): GidInfo => ({ index, gid: `gid${index}`, type, ipv4 });
    assert.equal(preferredGid([g(0, 'RoCE v1', null), g(1, 'RoCE v2', null), g(2, 'RoCE v1', '10.0.0.1'), g(3, 'RoCE v2', '10.0.0.1')])?.index, 3);
    assert.equal(preferredGid([g(0, 'RoCE v1', '10.0.0.1'), g(1, 'RoCE v2', null)])?.index, 1);
    assert.equal(preferredGid([g(4, 'RoCE v2', '10.0.0.2'), g(3, 'RoCE v2', '10.0.0.1')])?.index, 3);
    assert.equal(preferredGid([g(0, 'IB', null), g(1, 'IB', null)])?.index, 0);
    assert.equal(preferredGid([]), null);
  });
});
