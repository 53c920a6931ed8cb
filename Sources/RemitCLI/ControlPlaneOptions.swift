import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `--control-plane URL` and the admin API key, shared by the commands that call the control plane.
struct ControlPlaneOptions: ParsableArguments {
  @Option(
    name: .customLong("control-plane"),
    help: "The control plane's URL (default http://127.0.0.1:8080). [REMIT_CONTROL_PLANE]")
  var url: String?

  @Option(
    name: .customLong("api-key"),
    help: "API key. Visible in the process list: prefer REMIT_API_KEY or --api-key-file.")
  var apiKey: String?

  @Option(name: .customLong("api-key-file"), help: "File holding the API key. [REMIT_API_KEY_FILE]")
  var apiKeyFile: String?

  var baseURL: String {
    let url = environmentFallback(url, "REMIT_CONTROL_PLANE") ?? "http://127.0.0.1:8080"
    return url.hasSuffix("/") ? String(url.dropLast()) : url
  }

  func key() throws -> String {
    let key: String?
    do {
      key = try resolveAPIKey(flag: apiKey, file: apiKeyFile)
    } catch {
      throw ValidationError(error.message)
    }
    guard let key else { throw ValidationError("an API key is required: --api-key-file FILE or REMIT_API_KEY") }
    return key
  }

  /// One request to the control plane; returns the status, headers and body (bounded).
  func send(
    _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json"
  ) async throws -> (status: Int, headers: HTTPHeaders, body: [UInt8]) {
    let key = try key()
    do {
      var request = HTTPClientRequest(url: baseURL + path)
      request.method = method
      request.headers.add(name: "Authorization", value: "Bearer \(key)")
      if let body {
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: body))
      }
      // The process-wide client: one command, one request, nothing to shut down.
      let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
      let buffer = try await response.body.collect(upTo: 16 << 20)
      return (Int(response.status.code), response.headers, Array(buffer.readableBytesView))
    } catch {
      printError("remit: cannot reach the control plane at \(baseURL): \(error)")
      throw ExitCode(2)
    }
  }
}

/// A control plane error answer, printed the way a person reads it.
func printControlPlaneError(_ status: Int, _ body: [UInt8]) {
  struct Answer: Decodable {
    struct Problem: Decodable {
      var code: String?
      var message: String?
      var field: String?
    }
    var error: Problem?
    var errors: [Problem]?
  }
  guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(body)) else {
    printError("remit: the control plane answered HTTP \(status)")
    return
  }
  if let errors = answer.errors, !errors.isEmpty {
    for problem in errors { printError("\(problem.field ?? "-"): \(problem.message ?? "")") }
  } else if let error = answer.error {
    printError("remit: \(error.code ?? "error"): \(error.message ?? "HTTP \(status)")")
  } else {
    printError("remit: the control plane answered HTTP \(status)")
  }
}
