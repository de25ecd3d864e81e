import type { StickyModel } from './sticky-model.ts';

/**
 * Rack awareness for the sticky assignors (KIP-881), decided as Kafka decides it: it applies when some member has a
 * rack, some member's rack holds replicas, and the partitions are not all replicated on the same set of racks (if
 * every partition has a replica on every rack, every member is local to every partition and racks cannot matter).
 * Balance always comes first; rack alignment only chooses among balanced assignments.
 */
export interface StickyRacks {
  /** Whether rack-aware assignment applies at all. */
  readonly enabled: boolean;
  /** Whether any member has a rack (Kafka then orders unassigned partitions by local members, enabled or not). */
  readonly anyMemberRack: boolean;
  /** A member's rack, by member number; null when it has none or when rack awareness is off. */
  readonly memberRack: readonly (string | null)[];
  /** Number of members whose rack holds a replica of each partition. */
  readonly localMembers: Int32Array;
  /** Whether a member with a rack is on a rack without a replica of the partition (always false when off). */
  mismatch(member: number, partition: number): boolean;
  /** Whether the member's rack holds a replica of the partition (always false when off or rackless). */
  local(member: number, partition: number): boolean;
}

const NO_RACKS: readonly string[] = [];

export function buildStickyRacks(model: StickyModel): StickyRacks {
  const rackMembers = new Map<string, number>();
  model.members.forEach((member) => {
    if (member.rackId !== null && member.rackId !== '') {
      rackMembers.set(member.rackId, (rackMembers.get(member.rackId) ?? 0) + 1);
    }
  });
  const anyMemberRack = rackMembers.size > 0;
  const racksOf = (partition: number): readonly string[] => model.partitionRacks?.[partition] ?? NO_RACKS;

  const localMembers = new Int32Array(model.partitionCount);
  let enabled = false;
  if (anyMemberRack) {
    const allPartitionRacks = new Set<string>();
    for (let partition = 0; partition < model.partitionCount; partition++) {
      let count = 0;
      const seen = new Set<string>();
      for (const rack of racksOf(partition)) {
        if (seen.has(rack)) continue;
        seen.add(rack);
        allPartitionRacks.add(rack);
        count += rackMembers.get(rack) ?? 0;
      }
      localMembers[partition] = count;
    }
    const overlap = [...rackMembers.keys()].some((rack) => allPartitionRacks.has(rack));
    if (overlap) {
      for (let partition = 0; partition < model.partitionCount && !enabled; partition++) {
        const racks = new Set(racksOf(partition));
        if (racks.size !== allPartitionRacks.size) enabled = true;
      }
    }
  }

  const memberRack = model.members.map((member) =>
    enabled && member.rackId !== null && member.rackId !== '' ? member.rackId : null,
  );
  return {
    enabled,
    anyMemberRack,
    memberRack,
    localMembers,
    mismatch(member, partition) {
      const rack = memberRack[member];
      return rack !== null && rack !== undefined && !racksOf(partition).includes(rack);
    },
    local(member, partition) {
      const rack = memberRack[member];
      return rack !== null && rack !== undefined && racksOf(partition).includes(rack);
    },
  };
}
