/** The HTTP listener's socket methods: its token and address (`http.token`) and a dashboard login (`dashboard.login`). */

export interface HttpTokenResult {
  auth: "token" | "none";
  /** Absent with `http.auth: none`. */
  token?: string;
  /** Where the gateway listens; absent when it is off or could not listen. */
  listen?: string;
  base_url?: string;
  problem?: string;
}

export interface DashboardLoginResult {
  url: string;
  expires_at: string;
}
