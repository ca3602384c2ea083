export * from "./base";
export * from "./builder";
export * from "./credentials";
export * from "./generated-secret";
export * from "./jobs";
export * from "./mirror";
export * from "./platform";
