/**
 * The RDMA devices libibverbs sees: `ibv_get_device_list` / `ibv_free_device_list`, names, opening.
 *
 * Decisions:
 * - A `DeviceList` owns the C array; its `Device`s are valid until `free()` (the man page: after the
 *   free only opened devices remain usable), and opening a device of a freed list throws instead of
 *   passing a dangling pointer.
 * - A NULL list is an error naming the errno (`ENOSYS`: the kernel has no RDMA support, `EPERM`, ...);
 *   an empty list is not: it is a machine with RDMA support and no device (or no provider library
 *   for it), which callers report in their own words.
 */
import koffi from 'koffi';
import { Context } from './context.js';
import { VerbsError } from './errors.js';
import { verbs } from './library.js';

export class Device {
  constructor(private readonly list: DeviceList, readonly handle: bigint, readonly name: string) {}

  /** `ibv_open_device`: a context on this device, to be closed with `Context.close()`. */
  open(): Context {
    if (this.list.freed) throw new Error(`device ${this.name}: its device list was freed; open devices before freeing the list`);
    const context = verbs().ibv_open_device(this.handle);
    if (context === null) throw new VerbsError(`ibv_open_device(${this.name})`, koffi.errno());
    return new Context(context, this.name);
  }
}

export class DeviceList {
  readonly devices: readonly Device[];
  freed = false;

  private constructor(private readonly handle: bigint, count: number) {
    const v = verbs();
    const pointers = count === 0 ? [] : (koffi.decode(handle, 'void *', count) as bigint[]);
    this.devices = pointers.map((p) => new Device(this, p, v.ibv_get_device_name(p) ?? `device@${p.toString(16)}`));
  }

  /** `ibv_get_device_list`; throws a VerbsError when libibverbs cannot list devices at all. */
  static open(): DeviceList {
    const count: [number] = [0];
    const handle = verbs().ibv_get_device_list(count);
    if (handle === null) throw new VerbsError('ibv_get_device_list', koffi.errno(), 'ibv_get_device_list found no RDMA device');
    return new DeviceList(handle, count[0]);
  }

  /** `ibv_free_device_list`; idempotent. Contexts already opened stay usable. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    verbs().ibv_free_device_list(this.handle);
  }
}
