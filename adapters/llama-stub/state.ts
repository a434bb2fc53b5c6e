/** The stub's run-time state and build identity, shared by the server, its routes and the fault flags. */

/** What the process-level faults flip while the server runs. */
export interface StubState {
  ready: boolean;
  hung: boolean;
  successfulInferences: number;
}

/** The llama.cpp build the stub stands in for; clients parse the number out of `build_info`. */
export const STUB_BUILD_NUMBER = 4748;
export const BUILD_INFO = `b${STUB_BUILD_NUMBER}-llama-stub`;
