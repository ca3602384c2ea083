import type { Plan } from "../types";
import { renderJson } from "./json";
import { renderMarkdown } from "./markdown";
import { renderTable } from "./table";

export const PLAN_FORMATS = ["table", "json", "markdown"] as const;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

export function renderPlan(plan: Plan, format: PlanFormat): string {
  switch (format) {
    case "json":
      return renderJson(plan);
    case "markdown":
      return renderMarkdown(plan);
    case "table":
      return renderTable(plan);
  }
}

export { renderJson, renderMarkdown, renderTable };
