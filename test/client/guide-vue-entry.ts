// Mount the guide's component with Vue in the page; console.log is what the
// component reports, and the test reads it from the page's console.
import { createApp, h } from 'vue'
import { guideComponent } from '../fixtures/guide-vue-component.js'

;(globalThis as any).mountGuide = (api: string) => {
  const el = document.createElement('div')
  document.body.append(el)
  createApp({ ...guideComponent(api), render: () => h('div') }).mount(el)
}
