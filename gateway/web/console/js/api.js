// The admin API, called with the admin token as a bearer token. Errors arrive in OpenAI's
// shape ({"error": {"message", "type", "param", "code"}}) and become ApiError.

export class ApiError extends Error {
  constructor(status, message, { code = null, param = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

export function createApi(token, { onUnauthorized = () => {} } = {}) {
  async function call(method, path, { query, body } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== "") {
        url.searchParams.set(name, String(value));
      }
    }
    const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
        referrerPolicy: "no-referrer",
      });
    } catch {
      throw new ApiError(0, "The gateway did not answer. Check that it is running and retry.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = data?.error ?? {};
      const failure = new ApiError(
        response.status,
        typeof error.message === "string" ? error.message : `The gateway answered ${response.status}.`,
        { code: error.code ?? null, param: error.param ?? null },
      );
      if (response.status === 401) onUnauthorized(failure);
      throw failure;
    }
    return data;
  }

  return {
    get: (path, query) => call("GET", path, { query }),
    post: (path, body) => call("POST", path, { body }),
    patch: (path, body) => call("PATCH", path, { body }),
    remove: (path, query) => call("DELETE", path, { query }),
  };
}

export const keyPath = (id) => `/admin/keys/${encodeURIComponent(id)}`;
export const teamPath = (id) => `/admin/teams/${encodeURIComponent(id)}`;
