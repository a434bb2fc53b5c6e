import path from "node:path";
import { readdir, readFile, realpath } from "../../base/fs-async.js";

/** PCI vendor ids of the GPU makers we place work on; BMC framebuffers and virtual GPUs are not listed. */
const PCI_VENDORS: Record<string, "amd" | "nvidia" | "intel"> = {
  "0x1002": "amd",
  "0x10de": "nvidia",
  "0x8086": "intel",
};

export interface DrmCard {
  /** `card0` */
  card: string;
  /** `<sysfsRoot>/class/drm/card0/device` */
  devicePath: string;
  vendor: "amd" | "nvidia" | "intel";
  pciVendor: string;
  pciDevice?: string;
  productName?: string;
  vramTotalBytes?: number;
  busId?: string;
  driver?: string;
}

export interface SysfsGpuReading {
  util_percent?: number;
  vram_used_bytes?: number;
  vram_total_bytes?: number;
  temperature_c?: number;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    return undefined;
  }
}

async function readInteger(file: string): Promise<number | undefined> {
  const text = await readText(file);
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  return Number(text);
}

function ueventField(uevent: string | undefined, key: string): string | undefined {
  if (uevent === undefined) return undefined;
  for (const line of uevent.split("\n")) {
    if (line.startsWith(`${key}=`)) return line.slice(key.length + 1).trim() || undefined;
  }
  return undefined;
}

const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$/i;

/**
 * Lists the DRM cards of known GPU vendors under `<sysfsRoot>/class/drm`, ordered by card number. Linux only;
 * an absent tree is an empty list.
 */
export async function scanDrmCards(sysfsRoot = "/sys"): Promise<DrmCard[]> {
  const drm = path.join(sysfsRoot, "class", "drm");
  let names: string[];
  try {
    names = await readdir(drm);
  } catch {
    return [];
  }
  const cards = names
    .filter((name) => /^card\d+$/.test(name))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const found: DrmCard[] = [];
  for (const card of cards) {
    const devicePath = path.join(drm, card, "device");
    const pciVendor = (await readText(path.join(devicePath, "vendor")))?.toLowerCase();
    const vendor = pciVendor === undefined ? undefined : PCI_VENDORS[pciVendor];
    if (pciVendor === undefined || vendor === undefined) continue;
    const uevent = await readText(path.join(devicePath, "uevent"));
    const entry: DrmCard = { card, devicePath, vendor, pciVendor };
    const pciDevice = (await readText(path.join(devicePath, "device")))?.toLowerCase();
    if (pciDevice !== undefined) entry.pciDevice = pciDevice;
    const productName = await readText(path.join(devicePath, "product_name"));
    if (productName) entry.productName = productName;
    const vram = await readInteger(path.join(devicePath, "mem_info_vram_total"));
    if (vram !== undefined) entry.vramTotalBytes = vram;
    const busId = ueventField(uevent, "PCI_SLOT_NAME") ?? (await pciAddressOf(devicePath));
    if (busId !== undefined) entry.busId = busId;
    const driver = ueventField(uevent, "DRIVER") ?? (await driverOf(devicePath));
    if (driver !== undefined) entry.driver = driver;
    found.push(entry);
  }
  return found;
}

async function pciAddressOf(devicePath: string): Promise<string | undefined> {
  try {
    const base = path.basename(await realpath(devicePath));
    return PCI_ADDRESS.test(base) ? base : undefined;
  } catch {
    return undefined;
  }
}

async function driverOf(devicePath: string): Promise<string | undefined> {
  try {
    return path.basename(await realpath(path.join(devicePath, "driver")));
  } catch {
    return undefined;
  }
}

export function drmCardModel(card: DrmCard): string {
  if (card.productName) return card.productName;
  const label = { amd: "AMD", nvidia: "NVIDIA", intel: "Intel" }[card.vendor];
  const ids = `${card.pciVendor.replace(/^0x/, "")}:${(card.pciDevice ?? "????").replace(/^0x/, "")}`;
  return `${label} GPU [${ids}]`;
}

/** amdgpu's utilisation and memory counters; each absent file leaves its field out. */
export async function readAmdGpu(card: DrmCard): Promise<SysfsGpuReading> {
  const reading: SysfsGpuReading = {};
  const [util, used, total, temp] = await Promise.all([
    readInteger(path.join(card.devicePath, "gpu_busy_percent")),
    readInteger(path.join(card.devicePath, "mem_info_vram_used")),
    readInteger(path.join(card.devicePath, "mem_info_vram_total")),
    readHwmonTemperature(card.devicePath),
  ]);
  if (util !== undefined) reading.util_percent = util;
  if (used !== undefined) reading.vram_used_bytes = used;
  if (total !== undefined) reading.vram_total_bytes = total;
  if (temp !== undefined) reading.temperature_c = temp;
  return reading;
}

async function readHwmonTemperature(devicePath: string): Promise<number | undefined> {
  const hwmon = path.join(devicePath, "hwmon");
  let names: string[];
  try {
    names = await readdir(hwmon);
  } catch {
    return undefined;
  }
  for (const name of names.sort()) {
    const milli = await readInteger(path.join(hwmon, name, "temp1_input"));
    if (milli !== undefined) return milli / 1000;
  }
  return undefined;
}
