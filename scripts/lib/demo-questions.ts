// Questions about the demo conversations (demo/), for benchmarks.
export const DEMO_QUESTIONS = [
  "What did John say about the project timeline?",
  "When is the public beta?",
  "Why did the beta slip?",
  "Who owns the timeline doc?",
  "What is the plan for the billing migration?",
  "How big was the difference in the billing comparison?",
  "Who was hired for the data engineer role?",
  "When does the new data engineer start?",
  "What is left on the onboarding flow?",
  "Why did the CSV export fail?",
  "What workaround did support suggest for the export?",
  "What did Kenji find was the cause of the export timeouts?",
  "How long did the streaming export of 2.1 million rows take?",
  "What compensation did the customer get?",
  "When will streaming exports roll out to all workspaces?",
  "Did we agree on a feature freeze date?",
];
