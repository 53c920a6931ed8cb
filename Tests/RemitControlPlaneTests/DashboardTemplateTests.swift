import Foundation
import Testing

@testable import RemitControlPlane

@Suite struct DashboardTemplateTests {
  static let directory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/RemitControlPlane/Dashboard/Templates")

  /// DashboardTemplates.swift is generated: rerun scripts/generate-dashboard-templates.py when this fails.
  @Test func theEmbeddedTemplatesAreTheTemplateFiles() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).sorted()
    var templates: [String: String] = [:]
    var staticFiles: [String: String] = [:]
    for file in files {
      let text = try String(contentsOf: Self.directory.appendingPathComponent(file), encoding: .utf8)
      if file.hasSuffix(".mustache") {
        templates[String(file.dropLast(".mustache".count))] = text
      } else {
        staticFiles[file] = text
      }
    }
    #expect(templates.count >= 10)
    #expect(templates == DashboardTemplates.templates)
    #expect(staticFiles == DashboardTemplates.staticFiles)
  }

  @Test func noTemplateRendersUnescapedValuesOrInlineScript() {
    for (name, text) in DashboardTemplates.templates {
      #expect(!text.contains("{{{"), "\(name)")
      #expect(!text.contains("{{&"), "\(name)")
      #expect(!text.lowercased().contains("<script"), "\(name)")
      #expect(!text.lowercased().contains(" style="), "\(name)")
      #expect(text.range(of: #"\son[a-z]+\s*="#, options: [.regularExpression, .caseInsensitive]) == nil, "\(name)")
    }
  }

  @Test func everyTemplateParses() {
    let renderer = DashboardRenderer()
    for name in DashboardTemplates.templates.keys {
      #expect(renderer.library.getTemplate(named: name) != nil, "\(name)")
    }
  }
}
