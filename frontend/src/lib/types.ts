/** Friendly names for the types generated from `openapi.yaml` (see `schema.d.ts`). */

import type { components } from './schema';

type Schemas = components['schemas'];

export type JsonValue = Schemas['JsonValue'];
export type JsonObject = Schemas['JsonObject'];
export type NavigationEntry = Schemas['NavigationEntry'];
export type SessionStateDocument = Schemas['SessionStateDocument'];
export type SessionInitRequest = Schemas['SessionInitRequest'];
export type SessionInitResponse = Schemas['SessionInitResponse'];
export type SessionStateResponse = Schemas['SessionStateResponse'];
export type SessionUpdateRequest = Schemas['SessionUpdateRequest'];
export type SessionUpdateResponse = Schemas['SessionUpdateResponse'];
export type SessionSummary = Schemas['SessionSummary'];
export type SessionListResponse = Schemas['SessionListResponse'];
export type ProjectSaveRequest = Schemas['ProjectSaveRequest'];
export type ProjectSaveResponse = Schemas['ProjectSaveResponse'];
export type ProjectLoadResponse = Schemas['ProjectLoadResponse'];
export type SnapshotInfo = Schemas['SnapshotInfo'];
export type SnapshotPage = Schemas['SnapshotPage'];
export type SnapshotResult = Schemas['SnapshotResult'];
export type Health = Schemas['Health'];
export type ErrorBody = Schemas['Error'];
