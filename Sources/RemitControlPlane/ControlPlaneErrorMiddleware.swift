import Hummingbird
import Logging

/// Turns an unexpected error (a database failure, say) into the API's JSON error shape with a
/// stable code, and logs it; the client never sees the underlying error text.
struct ControlPlaneErrorMiddleware<Context: RequestContext>: RouterMiddleware {
  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    do {
      return try await next(request, context)
    } catch let error as any HTTPResponseError {
      throw error
    } catch let error as DatabaseUnavailableError {
      context.logger.error(
        "request failed: database unavailable", metadata: ["reason": "\(error.reason)", "path": "\(request.uri.path)"])
      throw ControlPlaneError(
        status: .serviceUnavailable, code: "database_unavailable",
        message: "the control plane's database is not reachable; retry shortly")
    } catch {
      context.logger.error(
        "request failed",
        metadata: ["error_type": "\(String(reflecting: type(of: error)))", "path": "\(request.uri.path)"])
      throw ControlPlaneError(
        status: .internalServerError, code: "internal_error",
        message: "the control plane could not complete the request; see its log")
    }
  }
}
