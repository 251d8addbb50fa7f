import { Initial1764860000000 } from '#migrations/1764860000000-initial.js';
import { Webhooks1764870000000 } from '#migrations/1764870000000-webhooks.js';
import { WebhookClaimIndexes1764875000000 } from '#migrations/1764875000000-webhook-claim-indexes.js';
import { Contacts1764880000000 } from '#migrations/1764880000000-contacts.js';
import { Inbox1764900000000 } from '#migrations/1764900000000-inbox.js';
import { Rooms1764910000000 } from '#migrations/1764910000000-rooms.js';
import { Profiles1764920000000 } from '#migrations/1764920000000-profiles.js';
import { PrivateFragments1764921000000 } from '#migrations/1764921000000-private-fragments.js';
import { InboxHotUpdates1764930000000 } from '#migrations/1764930000000-inbox-hot-updates.js';
import { OfflineMarks1764940000000 } from '#migrations/1764940000000-offline-marks.js';

/** Every migration, oldest first. Hand-reviewed; the drift test checks them against the entities. */
export const MIGRATIONS = [
  Initial1764860000000,
  Webhooks1764870000000,
  WebhookClaimIndexes1764875000000,
  Contacts1764880000000,
  Inbox1764900000000,
  Rooms1764910000000,
  Profiles1764920000000,
  PrivateFragments1764921000000,
  InboxHotUpdates1764930000000,
  OfflineMarks1764940000000,
];
